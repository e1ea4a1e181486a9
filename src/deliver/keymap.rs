//! A map from reader keys to a small value in about 19 bytes a reader (a
//! 16-byte key, the value, and room to spare), where a `HashMap` takes 36
//! once it doubles past a million entries: what a list send keeps per
//! reader, so that a million readers fit its memory budget. Open addressing
//! with linear probing; a reader key is already a hash (SHA-256), so its
//! first bytes pick the slot.

use crate::list::reader::ReaderKey;

/// The most entries per slot (9 in 10): past this load the map grows by
/// half.
const MAX_LOAD: (usize, usize) = (9, 10);

#[derive(Debug, Clone)]
pub(crate) struct KeyMap<V> {
    keys: Vec<ReaderKey>,
    values: Vec<V>,
    /// Which slots hold an entry, a bit each.
    used: Vec<u64>,
    len: usize,
}

impl<V: Copy + Default> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap::with_capacity(0)
    }
}

impl<V: Copy + Default> KeyMap<V> {
    /// A map that holds `entries` without growing.
    pub(crate) fn with_capacity(entries: usize) -> KeyMap<V> {
        let slots = (entries.saturating_mul(MAX_LOAD.1) / MAX_LOAD.0).max(16) + 1;
        KeyMap {
            keys: vec![ReaderKey::ZERO; slots],
            values: vec![V::default(); slots],
            used: vec![0; slots.div_ceil(64)],
            len: 0,
        }
    }

    pub(crate) fn get(&self, key: ReaderKey) -> Option<V> {
        let mut slot = self.home(key);
        while self.is_used(slot) {
            if self.keys[slot] == key {
                return Some(self.values[slot]);
            }
            slot = (slot + 1) % self.keys.len();
        }
        None
    }

    /// Sets `key`'s value.
    pub(crate) fn insert(&mut self, key: ReaderKey, value: V) {
        if (self.len + 1) * MAX_LOAD.1 > self.keys.len() * MAX_LOAD.0 {
            self.grow();
        }
        let mut slot = self.home(key);
        while self.is_used(slot) {
            if self.keys[slot] == key {
                self.values[slot] = value;
                return;
            }
            slot = (slot + 1) % self.keys.len();
        }
        self.keys[slot] = key;
        self.values[slot] = value;
        self.used[slot / 64] |= 1 << (slot % 64);
        self.len += 1;
    }

    /// Every value, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = V> + '_ {
        (0..self.keys.len())
            .filter(|&slot| self.is_used(slot))
            .map(|slot| self.values[slot])
    }

    fn grow(&mut self) {
        let mut bigger = KeyMap::with_capacity(self.len + self.len / 2 + 16);
        for slot in (0..self.keys.len()).filter(|&s| self.is_used(s)) {
            bigger.insert(self.keys[slot], self.values[slot]);
        }
        *self = bigger;
    }

    /// Where `key` goes first: its first eight bytes scaled to the table.
    fn home(&self, key: ReaderKey) -> usize {
        let hash = u64::from_le_bytes(key.prefix());
        usize::try_from((u128::from(hash) * self.keys.len() as u128) >> 64).unwrap_or(0)
    }

    fn is_used(&self, slot: usize) -> bool {
        self.used[slot / 64] & (1 << (slot % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_keeps_the_last_value_of_each_key_and_grows_as_needed() {
        let mut map: KeyMap<u8> = KeyMap::with_capacity(4);
        let keys: Vec<ReaderKey> = (0..10_000)
            .map(|i| ReaderKey::of(&format!("reader{i}@nhs.example")))
            .collect();
        for (i, key) in keys.iter().enumerate() {
            map.insert(*key, (i % 7) as u8);
        }
        map.insert(keys[3], 99);
        assert_eq!(map.len, 10_000);
        assert_eq!(map.get(keys[3]), Some(99));
        assert_eq!(map.get(keys[9_999]), Some((9_999 % 7) as u8));
        assert_eq!(map.get(ReaderKey::of("stranger@nhs.example")), None);
        assert_eq!(map.values().count(), 10_000);
        assert_eq!(map.values().filter(|&v| v == 99).count(), 1);
    }
}
