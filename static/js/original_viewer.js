// One page of an original PDF, drawn by pdf.js (npm pdfjs-dist, served from node_modules), with
// the text a citation relies on highlighted over it.
const root = document.getElementById("pdf-viewer");

// Whitespace, punctuation and case differ between pdf.js text items and the extracted passage
// (or the clause the answer quoted); compare letters and digits only.
function squeeze(text) {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");
}

// A line of the page is cited when the cited text contains it, or when it contains the whole
// cited text (a short quote inside a long line).
function cited(piece, wanted) {
  return wanted.includes(piece) || (wanted.length >= 12 && piece.includes(wanted));
}

function fail(status, message) {
  root.dataset.state = "failed";
  status.textContent = message;
}

async function show() {
  const status = root.querySelector(".pdf-status");
  const pdfjs = await import(root.dataset.pdfjs);
  pdfjs.GlobalWorkerOptions.workerSrc = root.dataset.pdfjsWorker;
  let pdf;
  try {
    pdf = await pdfjs.getDocument({
      url: root.dataset.fileUrl,
      withCredentials: true,
      isEvalSupported: false,
      standardFontDataUrl: root.dataset.fonts,
    }).promise;
  } catch (error) {
    fail(status, "The original file could not be opened.");
    return;
  }
  const number = Math.min(Math.max(1, Number(root.dataset.page) || 1), pdf.numPages);
  const page = await pdf.getPage(number);
  const holder = root.querySelector(".pdf-page");
  const canvas = holder.querySelector("canvas");
  const natural = page.getViewport({ scale: 1 });
  const scale = Math.min(2, Math.max(0.5, (holder.clientWidth || natural.width) / natural.width));
  const viewport = page.getViewport({ scale });
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.style.width = viewport.width + "px";
  canvas.style.height = viewport.height + "px";
  holder.style.width = viewport.width + "px";
  holder.style.height = viewport.height + "px";
  await page.render({
    canvas,
    viewport,
    transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
  }).promise;

  const quoteNode = document.getElementById("cited-quote");
  const wanted = squeeze(quoteNode ? JSON.parse(quoteNode.textContent) : "");
  let marked = 0;
  if (wanted) {
    const content = await page.getTextContent();
    content.items.forEach((item) => {
      const piece = squeeze(item.str || "");
      // Short pieces ("2018", "$") would light up everywhere; a line or a cell is enough.
      if (piece.length < 6 || !cited(piece, wanted)) return;
      const [, , c, d, e, f] = pdfjs.Util.transform(viewport.transform, item.transform);
      const height = Math.hypot(c, d);
      const box = document.createElement("span");
      box.className = "pdf-highlight";
      box.style.left = e + "px";
      box.style.top = f - height + "px";
      box.style.width = item.width * scale + "px";
      box.style.height = height * 1.2 + "px";
      holder.append(box);
      marked += 1;
    });
  }
  root.dataset.highlights = String(marked);
  root.dataset.state = "rendered";
  status.textContent = marked
    ? "The cited text is highlighted on page " + number + "."
    : "Page " + number + " of " + pdf.numPages + ".";
  const first = holder.querySelector(".pdf-highlight");
  if (first) first.scrollIntoView({ block: "center" });
}

if (root) {
  show().catch(() => fail(root.querySelector(".pdf-status"), "The page could not be drawn."));
}
