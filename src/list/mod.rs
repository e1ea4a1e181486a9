//! The readers, and who may be sent to.
//!
//! | file | owns |
//! |---|---|
//! | `reader.rs` | a reader, and the key that stands for them |
//! | `address.rs` | which addresses can be sent to, and the one form they are compared in |
//! | `token.rs` | the links no one can forge: tokens, Message-ID ids, form tokens |
//! | `subscribers.rs` | the subscriber list as a stream of rows |
//! | `index.rs` | a reader found from a token or a Message-ID id, without the list in memory |
//! | `suppression.rs` | who is never sent to, and why; the service's writer |
//! | `holdings.rs` | everything held about one reader, in every file: found, or erased |
//! | `import.rs` | which rows of an imported CSV join, and why the rest do not |
//! | `signups.rs` | sign-ups and consent records: asked, mailed, confirmed, joined, imported |

pub(crate) mod address;
pub(crate) mod holdings;
pub(crate) mod import;
pub(crate) mod index;
pub(crate) mod reader;
pub(crate) mod signups;
pub(crate) mod subscribers;
pub(crate) mod suppression;
pub(crate) mod token;
