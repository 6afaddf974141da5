//! Passwords seen in data breaches: the operator's list, held as a binary fuse filter (about
//! 18 bits an entry, a false-positive rate of 2^-16, no false negatives), from which no
//! password can be read back. A password's key is the first eight bytes of its SHA-1, so the
//! public breach corpus (`HASH:count` lines) and a list of plain passwords give the same keys.
//! Every replica loads the newest list from the database and checks it every
//! `compromised_poll_secs`, so an import reaches them all without a restart.

use std::sync::{Arc, RwLock};

use uuid::Uuid;
use xorf::{BinaryFuse16, BinaryFuse16Ref, DmaSerializable as _, Filter as _, FilterRef as _};

use super::error::Error;
use super::service::Gatehouse;

/// The false-positive rate a [`BreachFilter`] is built for: 2^-16.
pub const STATED_FALSE_POSITIVE_RATE: f64 = 1.0 / 65_536.0;

/// The words of the field violation for a listed password (it never says which list).
pub const BREACHED: &str =
    "has appeared in a data breach, so attackers try it early: choose a password of your own";

/// The key of a password: the first eight bytes of the SHA-1 of its UTF-8 text.
pub fn key_of_password(password: &str) -> u64 {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// A password's SHA-1 as the breach corpus writes it: 40 upper-case hex digits.
pub fn sha1_hex(password: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

/// The key of a SHA-1 given as 40 hex digits (either case), as the breach corpus lists them.
pub fn key_of_sha1_hex(hex: &str) -> Option<u64> {
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&hex[..16], 16).ok()
}

/// The first bytes of a stored filter, and its layout's version.
const MAGIC: &[u8; 8] = b"GHBFUSE1";
/// The filter's descriptor (seed and segment sizes), as xorf lays it out.
const DESCRIPTOR_LEN: usize = BinaryFuse16::DESCRIPTOR_LEN;

/// An immutable set of password keys: a BinaryFuse16's descriptor and fingerprints.
#[derive(Debug)]
pub struct BreachFilter {
    descriptor: [u8; DESCRIPTOR_LEN],
    fingerprints: Vec<u16>,
    entries: u64,
}

impl BreachFilter {
    /// Builds the filter from keys (repeats allowed: they are removed first).
    pub fn build(mut keys: Vec<u64>) -> Result<BreachFilter, String> {
        keys.sort_unstable();
        keys.dedup();
        let entries = keys.len() as u64;
        let filter =
            BinaryFuse16::try_from(&keys).map_err(|e| format!("cannot build the filter: {e}"))?;
        let mut descriptor = [0u8; DESCRIPTOR_LEN];
        filter.dma_copy_descriptor_to(&mut descriptor);
        Ok(BreachFilter {
            descriptor,
            fingerprints: filter.fingerprints.into_vec(),
            entries,
        })
    }

    /// Whether the password is (probably) on the list.
    pub fn contains_password(&self, password: &str) -> bool {
        self.contains_key(key_of_password(password))
    }

    /// Whether the key is (probably) on the list.
    pub fn contains_key(&self, key: u64) -> bool {
        BinaryFuse16Ref::from_dma(&self.descriptor, bytemuck::cast_slice(&self.fingerprints))
            .contains(&key)
    }

    /// Distinct keys it was built from.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Its size in memory and in the database: two bytes a fingerprint.
    pub fn bytes(&self) -> u64 {
        self.fingerprints.len() as u64 * 2
    }

    /// The share of `samples` keys drawn at random (almost surely not on the list) that it
    /// reports as listed.
    pub fn measured_false_positive_rate(&self, samples: u64) -> f64 {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut hits = 0u64;
        for _ in 0..samples {
            // splitmix64: a fixed, well-spread sequence.
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            hits += u64::from(self.contains_key(z));
        }
        hits as f64 / samples.max(1) as f64
    }

    /// The filter as bytes for the database: a magic, the entry count, the descriptor, then
    /// the fingerprints, all little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + DESCRIPTOR_LEN + self.fingerprints.len() * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.entries.to_le_bytes());
        out.extend_from_slice(&self.descriptor);
        for fingerprint in &self.fingerprints {
            out.extend_from_slice(&fingerprint.to_le_bytes());
        }
        out
    }

    /// The filter from the database's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<BreachFilter, String> {
        let damaged = || "the stored compromised-password filter is damaged".to_owned();
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(damaged)?;
        if rest.len() < 8 + DESCRIPTOR_LEN || !(rest.len() - 8 - DESCRIPTOR_LEN).is_multiple_of(2) {
            return Err(damaged());
        }
        let (count, rest) = rest.split_at(8);
        let (descriptor, fingerprints) = rest.split_at(DESCRIPTOR_LEN);
        // A lookup reads at most segment_count_length + 2 × segment_length fingerprints: a
        // shorter array (a damaged row) must be refused here, not found by a lookup.
        let word = |at: usize| {
            u64::from(u32::from_le_bytes([
                descriptor[at],
                descriptor[at + 1],
                descriptor[at + 2],
                descriptor[at + 3],
            ]))
        };
        let needed = word(16) + 2 * word(8);
        if (fingerprints.len() as u64 / 2) < needed {
            return Err(damaged());
        }
        Ok(BreachFilter {
            descriptor: descriptor.try_into().map_err(|_| damaged())?,
            fingerprints: fingerprints
                .chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                .collect(),
            entries: u64::from_le_bytes(count.try_into().map_err(|_| damaged())?),
        })
    }
}

/// The list this process checks passwords against, swapped when a newer one is imported.
#[derive(Debug, Default)]
pub struct CompromisedList {
    current: RwLock<Option<Arc<(Uuid, BreachFilter)>>>,
}

impl CompromisedList {
    /// Whether the password is on the current list (false when there is none).
    pub fn contains(&self, password: &str) -> bool {
        self.loaded()
            .is_some_and(|list| list.1.contains_password(password))
    }

    /// The id of the list loaded, if any.
    pub fn loaded_id(&self) -> Option<Uuid> {
        self.loaded().map(|list| list.0)
    }

    fn loaded(&self) -> Option<Arc<(Uuid, BreachFilter)>> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, list: Option<(Uuid, BreachFilter)>) {
        let list = list.map(Arc::new);
        match self.current.write() {
            Ok(mut guard) => *guard = list,
            Err(poisoned) => *poisoned.into_inner() = list,
        }
    }
}

impl Gatehouse {
    /// Loads the newest compromised-password list when it is not the one loaded (or drops
    /// the loaded one when none is stored); returns whether anything changed.
    pub async fn refresh_compromised(&self) -> Result<bool, Error> {
        let newest = self.store.newest_compromised_list().await?;
        if newest == self.compromised.loaded_id() {
            return Ok(false);
        }
        let Some(id) = newest else {
            self.compromised.set(None);
            return Ok(true);
        };
        let bytes = self.store.compromised_list_bytes(id).await?;
        let filter = tokio::task::spawn_blocking(move || BreachFilter::from_bytes(&bytes))
            .await
            .map_err(|e| Error::Internal(Box::new(e)))?
            .map_err(|e| Error::Internal(e.into()))?;
        tracing::info!(list = %id, entries = filter.entries(), bytes = filter.bytes(), "compromised-password list loaded");
        self.compromised.set(Some((id, filter)));
        Ok(true)
    }

    /// Whether a password is on the compromised list.
    pub fn is_compromised(&self, password: &super::Password) -> bool {
        self.compromised.contains(password.expose())
    }

    /// Every rule a new password must meet ([`super::policy::PasswordPolicy::check_new`]), and not be
    /// on the compromised list.
    pub(super) fn check_new_password(
        &self,
        policy: &super::policy::PasswordPolicy,
        field: &str,
        password: &super::Password,
        username: &str,
        display_name: &str,
    ) -> Vec<super::FieldViolation> {
        let mut violations = policy.check_new(field, password, username, display_name);
        let too_long = violations
            .iter()
            .any(|v| v.description.starts_with("too long"));
        if !too_long && self.is_compromised(password) {
            violations.push(super::FieldViolation::new(field, BREACHED));
        }
        violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_password_and_its_corpus_line_give_one_key() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
        assert_eq!(
            key_of_password("password"),
            key_of_sha1_hex("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8").expect("hex")
        );
        assert_eq!(
            sha1_hex("password"),
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
        );
        assert_eq!(key_of_sha1_hex("5BAA61E4"), None);
        assert_eq!(key_of_sha1_hex(&"g".repeat(40)), None);
    }

    #[test]
    fn listed_passwords_are_found_and_the_filter_survives_the_database() {
        let mut keys: Vec<u64> = (0..50_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9))
            .collect();
        keys.push(key_of_password("correct horse battery staple"));
        keys.push(key_of_password("correct horse battery staple"));
        let filter = BreachFilter::build(keys).expect("build");
        assert_eq!(filter.entries(), 50_001);
        let again = BreachFilter::from_bytes(&filter.to_bytes()).expect("decode");
        assert!(again.contains_password("correct horse battery staple"));
        assert!(again.measured_false_positive_rate(200_000) < 4.0 * STATED_FALSE_POSITIVE_RATE);
        assert!(BreachFilter::from_bytes(b"not a filter").is_err());
        let mut cut = filter.to_bytes();
        cut.pop();
        assert!(BreachFilter::from_bytes(&cut).is_err());
    }
}
