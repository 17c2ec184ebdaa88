//! Placeholder until the pickle branch lands its `text` module.

/// A peer's text, safe to print.
pub fn escape(text: &str) -> String {
    crate::old::python::escape_unprintable(text)
}

/// `repr(bytes)`.
pub fn bytes_repr(bytes: &[u8]) -> String {
    crate::old::python::bytes_repr(bytes)
}
