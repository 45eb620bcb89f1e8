//! The receipt verifier of the browser page (`service/web/receipts/`), compiled to WebAssembly.
//!
//! It runs [`zkattr_circuits::receipt::check`], the same code as `zkattr receipt verify`, on a receipt given
//! as JSON bytes and answers with the report as JSON. The module has no imports (no JavaScript glue is
//! generated): the page copies the receipt into memory from [`zkattr_alloc`], calls [`zkattr_verify`], reads
//! the length-prefixed answer and releases both buffers with [`zkattr_free`] (see `receipts.js`).
//!
//! [`verify_json`] is the safe function behind the exports; the native tests call it directly.

use zkattr_circuits::receipt::{self, Receipt};

/// Checks the receipt in `input` (JSON) and returns the report as JSON: the [`receipt::Report`], or
/// `{"ok": false, "error": "…"}` when the bytes are not a receipt.
pub fn verify_json(input: &[u8]) -> String {
    match serde_json::from_slice::<Receipt>(input) {
        Ok(r) => serde_json::to_string(&receipt::check(&r)).expect("a report serialises"),
        Err(e) => serde_json::json!({
            "ok": false,
            "error": format!("this file is not a zkattr receipt ({}): {e}", receipt::RECEIPT_FORMAT),
        })
        .to_string(),
    }
}

#[cfg(target_arch = "wasm32")]
mod exports {
    // The WebAssembly boundary: raw pointers into the module's own memory. Each buffer is a `Vec<u8>`'s
    // allocation handed out whole and taken back whole with its length, never shared or resized.
    #![allow(unsafe_code)]

    /// A buffer of `len` bytes for the page to write into.
    #[no_mangle]
    pub extern "C" fn zkattr_alloc(len: usize) -> *mut u8 {
        let mut v = Vec::<u8>::with_capacity(len);
        let p = v.as_mut_ptr();
        std::mem::forget(v);
        p
    }

    /// Releases a buffer of `len` bytes from [`zkattr_alloc`] or [`zkattr_verify`].
    ///
    /// # Safety
    /// `ptr` and `len` must be those of a buffer this module handed out and not yet released.
    #[no_mangle]
    pub unsafe extern "C" fn zkattr_free(ptr: *mut u8, len: usize) {
        drop(Vec::from_raw_parts(ptr, 0, len));
    }

    /// Checks the receipt in the `len` bytes at `ptr` (from [`zkattr_alloc`], filled by the page). Returns a
    /// buffer: the answer's length (4 bytes, little-endian), then the answer (JSON); release it with
    /// `zkattr_free(ptr, 4 + length)`.
    ///
    /// # Safety
    /// `ptr` must be a buffer of at least `len` bytes from [`zkattr_alloc`], filled by the caller.
    #[no_mangle]
    pub unsafe extern "C" fn zkattr_verify(ptr: *const u8, len: usize) -> *mut u8 {
        let input = std::slice::from_raw_parts(ptr, len);
        let answer = super::verify_json(input);
        let mut out = Vec::with_capacity(4 + answer.len());
        out.extend_from_slice(&(answer.len() as u32).to_le_bytes());
        out.extend_from_slice(answer.as_bytes());
        let mut out = std::mem::ManuallyDrop::new(out.into_boxed_slice());
        out.as_mut_ptr()
    }

    // halo2-axiom asks for an OS random source (its `batch` feature); verifying draws no randomness, so the
    // browser build has a source that always refuses.
    fn no_randomness(_: &mut [u8]) -> Result<(), getrandom::Error> {
        Err(getrandom::Error::UNSUPPORTED)
    }
    getrandom::register_custom_getrandom!(no_randomness);
}

#[cfg(test)]
mod tests {
    #[test]
    fn anything_but_a_receipt_is_refused_in_words() {
        for input in [
            &b""[..],
            b"{}",
            b"not json",
            b"{\"format\":\"zkattr.receipt.v1\"}",
        ] {
            let v: serde_json::Value = serde_json::from_str(&super::verify_json(input)).unwrap();
            assert_eq!(v["ok"], false);
            assert!(v["error"]
                .as_str()
                .unwrap()
                .contains("not a zkattr receipt"));
        }
    }
}
