//! The helpers of the lessons not yet moved to the new library; removed when
//! the last lesson has moved.
#![allow(missing_docs)]

pub mod cli;
pub mod errors;
pub mod framing;
pub mod lesson;
pub mod output;
pub mod python;
pub mod unpickle;
pub mod wire;

pub use lesson::{ClientConfig, Lesson, ServerConfig};
pub use output::Out;
pub use wire::Wire;

use socket2::Socket;

pub fn reuse_address(socket: &Socket) -> std::io::Result<()> {
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    #[cfg(not(unix))]
    let _ = socket;
    Ok(())
}
