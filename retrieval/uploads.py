"""An upload handler that stops reading a file once it passes the tenant's upload limit, so an
oversized file is refused (413) while it streams in, not after it has been read whole."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler

from accounts.errors import RequestTooLarge


class UploadSizeLimitHandler(FileUploadHandler):
    """Put first in `request.upload_handlers`: passes each chunk on to the handlers after it
    (memory, or a temporary file past FILE_UPLOAD_MAX_MEMORY_SIZE) and raises RequestTooLarge
    as soon as one file is over `max_bytes`. Django's parser then closes (and deletes) the files
    it had started."""

    def __init__(self, *, max_bytes: int, request: Any = None):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.file_bytes = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file_bytes = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.file_bytes += len(raw_data)
        if self.file_bytes > self.max_bytes:
            raise RequestTooLarge(
                f"{self.file_name} is larger than this workspace's upload limit of "
                f"{self.max_bytes:,} bytes.",
                details={"reason": "too_large", "max_bytes": self.max_bytes},
            )
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the handlers after this one build the file
