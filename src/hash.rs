//! Hash maps looked up once or more per packet (streams by SSRC and 5-tuple,
//! routes, pending streams). ahash's hasher is several times faster than the
//! standard SipHash on such small keys (a fifth of `streams`' time went to
//! SipHash, issue #13) and, like it, keyed at random per process, so a
//! crafted capture cannot choose keys that collide.

/// A `HashMap` with ahash's randomly keyed hasher.
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// A `HashSet` with ahash's randomly keyed hasher.
pub type FastSet<K> = std::collections::HashSet<K, ahash::RandomState>;
