"""A member's data: consent to the privacy notice, the copy of their data, erasure and the
retention sweep."""
