"""Financial-text toolkit: words, stems, stopwords, sentences, fiscal periods and table rows.

Pure functions over strings with no dependency on any app (import-linter checks it), so
retrieval, agents and monitoring can all share one home for how text is read.
"""
