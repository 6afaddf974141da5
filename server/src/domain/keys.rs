//! The server's secret key: 256 bits read from `secret_key_file`, kept only in memory and in
//! that file, never in the database. From it come one key per purpose (HMAC-SHA-256 of the
//! purpose's name), so a copy of the database alone does not give away:
//!
//! - one-time codes (stored as HMAC-SHA-256, not as a plain SHA-256 that 10⁸ guesses reverse);
//! - the fingerprints of wrong passwords that the lock-out keeps;
//! - authenticator secrets (sealed with AES-256-GCM, bound to their method's id);
//! - the text of messages waiting in the outbox.
//!
//! A rotation runs with the new key and the previous one (`secret_key_previous_file`):
//! everything is made with the new key, codes and sealed values made with the previous one
//! still match and open, and at start-up the sealed values still under the previous key are
//! sealed again under the new one.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac::{HMAC_SHA256, Key};

use super::error::Error;
use super::secret::Password;

/// The prefix of a sealed value: the format version.
const SEALED: &str = "v1:";

/// The server's secret key, and during a rotation the previous one. `Debug` prints a
/// redaction.
#[derive(Clone)]
pub struct SecretKey {
    current: Arc<[u8; 32]>,
    previous: Option<Arc<[u8; 32]>>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// A new random key from the operating system's CSPRNG.
    pub fn generate() -> SecretKey {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        SecretKey {
            current: Arc::new(key),
            previous: None,
        }
    }

    /// This key, with `previous` (the key it replaces) still accepted for what was made
    /// before.
    pub fn with_previous(self, previous: &SecretKey) -> SecretKey {
        SecretKey {
            current: self.current,
            previous: Some(previous.current.clone()),
        }
    }

    /// Whether a previous key is still accepted.
    pub fn rotating(&self) -> bool {
        self.previous.is_some()
    }

    /// The accepted keys, the current one first.
    fn keys(&self) -> impl Iterator<Item = &[u8; 32]> {
        std::iter::once(&*self.current).chain(self.previous.as_deref())
    }

    /// A key written as 64 hex digits (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| "the secret key must be 64 hex digits".to_owned())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the secret key must be 64 hex digits (256 bits)".to_owned())?;
        Ok(SecretKey {
            current: Arc::new(key),
            previous: None,
        })
    }

    /// The key as 64 hex digits, for its file.
    pub fn to_hex(&self) -> String {
        hex::encode(*self.current)
    }

    /// HMAC-SHA-256 under the current key for `purpose`, of each part in turn.
    pub(crate) fn mac(&self, purpose: &str, parts: &[&[u8]]) -> Vec<u8> {
        mac_with(&self.current, purpose, parts)
    }

    /// The stored form of a one-time code as typed (dashes, spaces and case ignored).
    pub(crate) fn code_digest(&self, code: &Password) -> String {
        code_digest_with(&self.current, code)
    }

    /// Whether `stored` is the digest of `code` under the current or the previous key.
    pub(crate) fn code_matches(&self, stored: Option<&str>, code: &Password) -> bool {
        let Some(stored) = stored else {
            return false;
        };
        self.keys().any(|key| code_digest_with(key, code) == stored)
    }

    /// Seals `plain` for `purpose`, bound to `context` (the row it belongs to): a random
    /// 96-bit nonce, AES-256-GCM, `v1:` and base64url.
    pub(crate) fn seal(&self, purpose: &str, context: &[u8], plain: &str) -> Result<String, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let mut data = plain.as_bytes().to_vec();
        aead(&self.current, purpose)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut data,
            )
            .map_err(|_| Error::Internal(format!("cannot seal a {purpose} value").into()))?;
        let mut out = nonce.to_vec();
        out.extend(data);
        Ok(format!("{SEALED}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens what [`SecretKey::seal`] made with the same purpose and context, under the
    /// current or the previous key; an error when neither opens it or the value or its
    /// context was changed.
    pub(crate) fn open(
        &self,
        purpose: &str,
        context: &[u8],
        sealed: &str,
    ) -> Result<String, Error> {
        self.open_telling(purpose, context, sealed)
            .map(|(plain, _)| plain)
    }

    /// The body sealed again under the current key, when it opens only with the previous one.
    pub(crate) fn reseal_message(
        &self,
        channel: &str,
        recipient: &str,
        sealed: &str,
    ) -> Result<Option<String>, Error> {
        self.reseal(OUTBOX_BODIES, &message_context(channel, recipient), sealed)
    }

    /// Seals the body of an outbox message, bound to its channel and recipient.
    pub fn seal_message(
        &self,
        channel: &str,
        recipient: &str,
        body: &str,
    ) -> Result<String, Error> {
        self.seal(OUTBOX_BODIES, &message_context(channel, recipient), body)
    }

    /// Opens what [`SecretKey::seal_message`] sealed for the same channel and recipient.
    pub fn open_message(
        &self,
        channel: &str,
        recipient: &str,
        sealed: &str,
    ) -> Result<String, Error> {
        self.open(OUTBOX_BODIES, &message_context(channel, recipient), sealed)
    }

    /// Sealed again under the current key, when `sealed` opens only with the previous one.
    pub(crate) fn reseal(
        &self,
        purpose: &str,
        context: &[u8],
        sealed: &str,
    ) -> Result<Option<String>, Error> {
        match self.open_telling(purpose, context, sealed)? {
            (_, true) => Ok(None),
            (plain, false) => Ok(Some(self.seal(purpose, context, &plain)?)),
        }
    }

    /// The opened value, and whether the current key opened it.
    fn open_telling(
        &self,
        purpose: &str,
        context: &[u8],
        sealed: &str,
    ) -> Result<(String, bool), Error> {
        let unreadable = || {
            Error::Internal(
                format!("a sealed {purpose} value does not open with this server's secret key")
                    .into(),
            )
        };
        let data = sealed
            .strip_prefix(SEALED)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .filter(|d| d.len() > NONCE_LEN)
            .ok_or_else(unreadable)?;
        let (nonce, cipher) = data.split_at(NONCE_LEN);
        for (index, key) in self.keys().enumerate() {
            let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
            let mut cipher = cipher.to_vec();
            if let Ok(plain) =
                aead(key, purpose)?.open_in_place(nonce, Aad::from(context), &mut cipher)
            {
                let plain = String::from_utf8(plain.to_vec()).map_err(|_| unreadable())?;
                return Ok((plain, index == 0));
            }
        }
        Err(unreadable())
    }
}

/// HMAC-SHA-256 under `key`'s key for `purpose` (itself HMAC-SHA-256(key, purpose)).
fn mac_with(key: &[u8; 32], purpose: &str, parts: &[&[u8]]) -> Vec<u8> {
    let tag = ring::hmac::sign(&Key::new(HMAC_SHA256, key), purpose.as_bytes());
    let mut context = ring::hmac::Context::with_key(&Key::new(HMAC_SHA256, tag.as_ref()));
    for part in parts {
        context.update(part);
    }
    context.sign().as_ref().to_vec()
}

fn code_digest_with(key: &[u8; 32], code: &Password) -> String {
    let typed: String = code
        .expose()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    hex::encode(mac_with(key, "one-time codes", &[typed.as_bytes()]))
}

fn aead(key: &[u8; 32], purpose: &str) -> Result<LessSafeKey, Error> {
    // The AES key is the purpose's MAC of nothing: 256 bits, like the HMAC output.
    let key = UnboundKey::new(&AES_256_GCM, &mac_with(key, purpose, &[]))
        .map_err(|_| Error::Internal("cannot make an AES-256-GCM key".into()))?;
    Ok(LessSafeKey::new(key))
}

/// The purpose under which outbox bodies are sealed.
const OUTBOX_BODIES: &str = "outbox bodies";

fn message_context(channel: &str, recipient: &str) -> Vec<u8> {
    [channel.as_bytes(), b"\n", recipient.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_purpose_and_context() {
        let key = SecretKey::generate();
        let sealed = key
            .seal("totp", b"row-1", "JBSWY3DPEHPK3PXP")
            .expect("seal");
        assert!(!sealed.contains("JBSWY3DP"));
        assert_eq!(
            key.open("totp", b"row-1", &sealed).ok().as_deref(),
            Some("JBSWY3DPEHPK3PXP")
        );
        assert!(
            key.open("totp", b"row-2", &sealed).is_err(),
            "moved to another row"
        );
        assert!(key.open("other", b"row-1", &sealed).is_err());
        assert!(
            SecretKey::generate()
                .open("totp", b"row-1", &sealed)
                .is_err()
        );
        let mut tampered = sealed.clone();
        tampered.pop();
        assert!(key.open("totp", b"row-1", &tampered).is_err());
        assert_ne!(
            key.seal("totp", b"row-1", "same").expect("seal"),
            key.seal("totp", b"row-1", "same").expect("seal"),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn a_rotation_accepts_the_previous_key_and_reseals_under_the_new_one() {
        let old = SecretKey::generate();
        let sealed = old.seal("totp", b"row-1", "SECRET").expect("seal");
        let code = Password::new("12345678".to_owned());
        let digest = old.code_digest(&code);
        let new = SecretKey::generate();
        assert!(new.open("totp", b"row-1", &sealed).is_err());
        assert!(!new.code_matches(Some(&digest), &code));
        let rotating = new.clone().with_previous(&old);
        assert!(rotating.rotating() && !new.rotating());
        assert_eq!(
            rotating.open("totp", b"row-1", &sealed).ok().as_deref(),
            Some("SECRET")
        );
        assert!(rotating.code_matches(Some(&digest), &code));
        assert!(!rotating.code_matches(None, &code));
        let resealed = rotating
            .reseal("totp", b"row-1", &sealed)
            .expect("reseal")
            .expect("it was under the previous key");
        assert_eq!(
            new.open("totp", b"row-1", &resealed).ok().as_deref(),
            Some("SECRET")
        );
        assert_eq!(
            rotating
                .reseal("totp", b"row-1", &resealed)
                .expect("reseal"),
            None,
            "already under the current key"
        );
        assert_eq!(rotating.code_digest(&code), new.code_digest(&code));
    }

    #[test]
    fn code_digests_are_keyed_and_forgiving_of_how_a_code_is_typed() {
        let key = SecretKey::generate();
        let code = Password::new("AB12-cd34".to_owned());
        assert_eq!(
            key.code_digest(&code),
            key.code_digest(&Password::new(" ab12 CD34 ".to_owned()))
        );
        assert_ne!(
            key.code_digest(&code),
            SecretKey::generate().code_digest(&code)
        );
    }

    #[test]
    fn keys_round_trip_through_hex_and_refuse_anything_else() {
        let key = SecretKey::generate();
        let again = SecretKey::parse(&format!("{}\n", key.to_hex())).expect("parse");
        assert_eq!(again.to_hex(), key.to_hex());
        assert!(SecretKey::parse("abcd").is_err());
        assert!(SecretKey::parse(&"zz".repeat(32)).is_err());
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
    }
}
