//! Redis Cluster's key → hash slot function: CRC16-XMODEM of the key (or
//! of its `{hash tag}`) modulo 16,384, exactly as `CLUSTER KEYSLOT`
//! answers it. Pure; no I/O.

/// The number of hash slots, as in Redis Cluster.
pub const SLOTS: u16 = 16_384;

/// CRC16-XMODEM (polynomial 0x1021, initial value 0, no reflection), the
/// checksum Redis Cluster hashes keys with.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The part of `key` that is hashed: between the first `{` and the first
/// `}` after it, when that is not empty; otherwise the whole key (so
/// `foo{}{bar}` hashes whole, and `foo{{bar}}` hashes `{bar`).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{')
        && let Some(len) = key[open + 1..].iter().position(|&b| b == b'}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// The hash slot of `key` (0..16,384).
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_xmodem_check_value() {
        // The CRC catalogue's check value for CRC-16/XMODEM.
        assert_eq!(crc16(b"123456789"), 0x31c3);
    }

    #[test]
    fn slots_match_redis_cluster_keyslot() {
        // Answers of redis-server 7.0.15 (`--cluster-enabled yes`) to
        // CLUSTER KEYSLOT.
        let known: [(&[u8], u16); 13] = [
            (b"foo", 12182),
            (b"bar", 5061),
            (b"hello", 866),
            (b"{user1000}.following", 3443),
            (b"{user1000}.followers", 3443),
            (b"foo{}{bar}", 8363),
            (b"foo{{bar}}zap", 4015),
            (b"foo{bar}{zap}", 5061),
            (b"{}foo", 9500),
            (b"a{b", 13340),
            (b"", 0),
            (b"123456789", 12739),
            (b"key:000000000001", 8924),
        ];
        for (key, slot) in known {
            assert_eq!(key_slot(key), slot, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn hash_tags_follow_the_first_brace_pair() {
        assert_eq!(hash_tag(b"{user}.a"), b"user");
        assert_eq!(hash_tag(b"x{}y{z}"), b"x{}y{z}");
        assert_eq!(hash_tag(b"{{a}}"), b"{a");
        assert_eq!(hash_tag(b"no}tag{"), b"no}tag{");
    }
}
