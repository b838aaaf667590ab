//! The references: each rule written again from the documentation and the RFCs, the slow and
//! obvious way, with no code shared with what it checks. One file per reference.

mod address;
mod command;
mod decide;
mod encoding;
mod glob;
mod headers;
mod path;
mod response;

pub use address::*;
pub use command::*;
pub use decide::*;
pub use encoding::*;
pub use glob::*;
pub use headers::*;
pub use path::*;
pub use response::*;
