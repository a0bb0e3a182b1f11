//! Opaque list cursors. A cursor holds where a page ended (the sort value
//! and id of its last row), sealed with ChaCha20-Poly1305 under a secret the
//! server keeps in its store: a client can neither read the position nor
//! forge one, and a cursor is bound to the list (model and order) and to the
//! credential's scope it was issued for, so it cannot be replayed by another
//! principal.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// Seals and opens cursors with one server secret.
pub(crate) struct CursorSeal {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for CursorSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorSeal")
    }
}

const NONCE_LEN: usize = 12;

impl CursorSeal {
    /// A seal keyed by a 32-byte secret.
    pub(crate) fn new(secret: &[u8]) -> CursorSeal {
        let mut key = [0u8; 32];
        for (slot, byte) in key.iter_mut().zip(secret) {
            *slot = *byte;
        }
        CursorSeal {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// `payload` sealed for `binding` (what the cursor may only be used
    /// with), as URL-safe base64.
    pub(crate) fn seal(&self, binding: &str, payload: &[u8]) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: payload,
                    aad: binding.as_bytes(),
                },
            )
            .expect("sealing a cursor cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The payload of a cursor sealed for `binding`; `None` for anything
    /// else (changed, forged, or issued for another list or principal).
    pub(crate) fn open(&self, binding: &str, cursor: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: binding.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_binding_and_unchanged() {
        let seal = CursorSeal::new(&[7u8; 32]);
        let cursor = seal.seal("tasks|title:asc|p1", br#"{"v":"secret name"}"#);
        assert!(!cursor.contains("secret"));
        let decoded = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        assert!(!String::from_utf8_lossy(&decoded).contains("secret name"));
        assert_eq!(
            seal.open("tasks|title:asc|p1", &cursor).unwrap(),
            br#"{"v":"secret name"}"#
        );
        assert!(seal.open("tasks|title:asc|p2", &cursor).is_none());
        let mut tampered = decoded.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(
            seal.open("tasks|title:asc|p1", &URL_SAFE_NO_PAD.encode(tampered))
                .is_none()
        );
        assert!(
            CursorSeal::new(&[8u8; 32])
                .open("tasks|title:asc|p1", &cursor)
                .is_none()
        );
        assert!(seal.open("x", "not base64!").is_none());
    }
}
