"""Layer 3: what each page shows, as plain data built from the store (no Streamlit here:
pages in `pages/` only lay these out)."""
