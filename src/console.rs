//! Standard output that a closed pipe ends quietly, as Unix tools do.
//!
//! `clusterbench env | head` closes the pipe after ten lines; `print!` would then
//! panic ("failed printing to stdout: Broken pipe", exit 101), and `eprintln!` does
//! the same under `2>&1 | head`. Everything the program prints goes through
//! [`out!`](crate::out)/[`outln!`](crate::outln) or [`Stdout`], and its messages
//! through [`errln!`](crate::errln), instead: once the reader is gone, the rest of
//! the output is dropped without a word and the command finishes as it would have,
//! with its own exit code (a `compare` that found a regression still exits 1 under
//! `| head`, and a `run` still
//! writes its results).
//!
//! The other way out, restoring SIGPIPE's default action so that the kernel kills
//! the process at the first write, is wrong for this program: its ranks talk over
//! sockets (Open MPI's TCP transport and its channel to `mpirun`'s daemons), and a
//! peer that goes away would then kill a rank by signal, with no message, before MPI
//! or the watchdog could name what happened; a `run` would lose its `.json`; and a
//! decision command's exit code would become 141 instead of its verdict. Rust's
//! runtime ignores SIGPIPE, so a write to a closed pipe returns `BrokenPipe`, which
//! this module absorbs.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The reader of standard output has gone: drop everything from now on.
static READER_GONE: AtomicBool = AtomicBool::new(false);

/// The first write error other than a closed pipe (a full disk behind `>`): the
/// output is incomplete, and `app` turns a successful exit into a failure.
static WRITE_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Standard output, with a closed pipe absorbed: writes after the reader has gone
/// succeed and go nowhere. Other errors are returned (and remembered).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        absorb_closed_pipe(&mut io::stdout().lock(), buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // One lock for the whole buffer, so that lines from two threads do not mix.
        let mut out = io::stdout().lock();
        let mut rest = buf;
        while !rest.is_empty() {
            let n = absorb_closed_pipe(&mut out, rest)?;
            rest = &rest[n..];
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if READER_GONE.load(Ordering::Relaxed) {
            return Ok(());
        }
        io::stdout().lock().flush().or_else(absorb)
    }
}

fn absorb_closed_pipe(out: &mut impl Write, buf: &[u8]) -> io::Result<usize> {
    if READER_GONE.load(Ordering::Relaxed) {
        return Ok(buf.len());
    }
    match out.write(buf) {
        Ok(0) if !buf.is_empty() => Err(remember(io::ErrorKind::WriteZero.into())),
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => absorb(e).map(|()| buf.len()),
    }
}

fn absorb(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        READER_GONE.store(true, Ordering::Relaxed);
        Ok(())
    } else {
        Err(remember(e))
    }
}

fn remember(e: io::Error) -> io::Error {
    if let Ok(mut first) = WRITE_ERROR.lock() {
        first.get_or_insert_with(|| e.to_string());
    }
    e
}

/// What [`out!`](crate::out) and [`outln!`](crate::outln) call: never panics; an
/// error other than a closed pipe is remembered for [`write_error`].
pub fn print(args: std::fmt::Arguments<'_>) {
    let _ = Stdout.write_fmt(args);
}

/// The first error standard output gave other than a closed pipe, if any.
pub fn write_error() -> Option<String> {
    WRITE_ERROR.lock().ok().and_then(|e| e.clone())
}

/// The reader of standard error has gone (`run 2>&1 | head`).
static ERROR_READER_GONE: AtomicBool = AtomicBool::new(false);

/// What [`errln!`](crate::errln) calls: writes to standard error and never panics.
/// A closed pipe silences the rest; any other error has nowhere to be reported.
pub fn eprint(args: std::fmt::Arguments<'_>) {
    if ERROR_READER_GONE.load(Ordering::Relaxed) {
        return;
    }
    // One write call per message: ranks share a terminal through their launcher, and
    // a message written in pieces can be cut by another rank's.
    let message = args.to_string();
    if let Err(e) = io::stderr().lock().write_all(message.as_bytes()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            ERROR_READER_GONE.store(true, Ordering::Relaxed);
        }
    }
}

/// `eprintln!` that a closed pipe does not turn into a panic.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::console::eprint(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that a closed pipe does not turn into a panic.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!($($arg)*))
    };
}

/// `println!` that a closed pipe does not turn into a panic.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::console::print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct FullDisk;

    impl Write for FullDisk {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(28))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_absorbed_and_other_errors_are_not() {
        // The only test that touches the process-wide state: READER_GONE stays false
        // for FullDisk because it is checked before the write and set only by a pipe.
        assert!(absorb_closed_pipe(&mut FullDisk, b"abc").is_err());
        assert!(write_error().is_some_and(|e| e.contains("No space left")));
        assert_eq!(absorb_closed_pipe(&mut ClosedPipe, b"abc").unwrap(), 3);
        assert!(READER_GONE.load(Ordering::Relaxed));
        assert_eq!(absorb_closed_pipe(&mut FullDisk, b"abcd").unwrap(), 4);
    }
}
