//! MPI communicator (feature `mpi`): one process per rank under mpirun or srun.

use crate::core::{Communicator, Missing};
use crate::core::{DType, ReduceOp};
use anyhow::{anyhow, bail, ensure, Result};
use mpi::collective::{CommunicatorCollectives, Root};
use mpi::datatype::PartitionMut;
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::Count;

/// The tag of point-to-point benchmark messages.
const P2P_TAG: std::ffi::c_int = 7;

/// Arrival checks use tags from here on (one per check, cycling through
/// `ARRIVAL_TAGS`), so that their messages never match a benchmark's. The MPI standard
/// guarantees tags up to 32767.
const ARRIVAL_TAG_BASE: u32 = 1000;
const ARRIVAL_TAGS: u32 = 30_000;

extern "C" {
    fn clusterbench_mpi_in_place() -> *mut std::ffi::c_void;
}

/// Every message, the arrival checks' included, goes through the world communicator:
/// the program creates no other, except where a command splits it on purpose
/// (`accept`'s per-node and node-leader runs, through [`Communicator::split`]). Creating one (`MPI_Comm_dup` and the like) makes Open
/// MPI agree on its id with a non-blocking all-reduce over the parent, which registers
/// the non-blocking collectives' progress function for the rest of the job; every
/// later wait then polls it too, which made an 8-byte ping-pong about 2% slower here.
pub struct MpiComm {
    world: SimpleCommunicator,
    /// Arrival checks made so far: the tag of the next one.
    arrivals: std::cell::Cell<u32>,
    /// The requests of the last [`exchange`](Communicator::exchange), kept so that a
    /// window allocates nothing after the first.
    requests: std::cell::RefCell<Vec<ffi::MPI_Request>>,
    // Finalises MPI when dropped (the world's only; a split part has none): the last
    // field, dropped after the communicators.
    _universe: Option<mpi::environment::Universe>,
}

impl MpiComm {
    pub fn init() -> Result<Self> {
        let universe = mpi::initialize().ok_or_else(|| anyhow!("MPI was already initialised"))?;
        let world = universe.world();
        Ok(MpiComm {
            _universe: Some(universe),
            world,
            arrivals: std::cell::Cell::new(0),
            requests: Default::default(),
        })
    }
}

/// An element count as MPI's `int`.
fn mpi_count(what: &str, count: usize) -> Result<Count> {
    Count::try_from(count).map_err(|_| anyhow!("{what}: {count} elements exceed MPI's int count"))
}

fn check_rc(what: &str, rc: std::ffi::c_int) -> Result<()> {
    if rc != 0 {
        bail!("{what} failed with error code {rc}");
    }
    Ok(())
}

/// The send pointer of a collective: the buffer, or MPI_IN_PLACE.
fn send_ptr(send: Option<&[u8]>) -> *const std::ffi::c_void {
    match send {
        Some(s) => s.as_ptr() as *const std::ffi::c_void,
        // SAFETY: returns the library's constant.
        None => unsafe { clusterbench_mpi_in_place() as *const std::ffi::c_void },
    }
}

/// The C signature shared by MPI_Allgather and MPI_Alltoall.
type BlockCall = unsafe extern "C" fn(
    *const std::ffi::c_void,
    std::ffi::c_int,
    ffi::MPI_Datatype,
    *mut std::ffi::c_void,
    std::ffi::c_int,
    ffi::MPI_Datatype,
    ffi::MPI_Comm,
) -> std::ffi::c_int;

/// Ensures `buf` holds at least `count` elements of `dtype`.
fn ensure_len(what: &str, buf: &[u8], count: usize, dtype: DType) -> Result<()> {
    ensure!(
        buf.len() >= count * dtype.size(),
        "{what}: buffer of {} bytes is shorter than {count} x {dtype}",
        buf.len()
    );
    Ok(())
}

impl MpiComm {
    /// An all-gather or all-to-all of blocks of `recv_count / size` elements: the
    /// receive buffer holds one block per rank, the send buffer `send_blocks` blocks
    /// (`None`: in place, MPI_IN_PLACE).
    #[allow(clippy::too_many_arguments)]
    fn block_collective(
        &self,
        (name, mpi_name): (&str, &str),
        call: BlockCall,
        send: Option<&[u8]>,
        send_blocks: usize,
        recv: &mut [u8],
        recv_count: usize,
        dtype: DType,
    ) -> Result<()> {
        let block = recv_count / self.size();
        ensure_len(name, recv, block * self.size(), dtype)?;
        if let Some(s) = send {
            ensure_len(name, s, block * send_blocks, dtype)?;
        }
        let n = mpi_count(name, block)?;
        // SAFETY: send holds `block x send_blocks` and recv `block x size` elements of
        // dtype, as checked above; `call` is an MPI block collective.
        let rc = unsafe {
            call(
                send_ptr(send),
                n,
                raw_datatype(dtype),
                recv.as_mut_ptr() as *mut std::ffi::c_void,
                n,
                raw_datatype(dtype),
                self.world.as_raw(),
            )
        };
        check_rc(mpi_name, rc)
    }

    /// Posts a non-blocking send (or receive) of `bytes` bytes at `buf` with `peer`;
    /// returns MPI's return code and the request.
    ///
    /// # Safety
    /// `buf` must hold `bytes` bytes and stay valid until the request completes; a send
    /// only reads through it.
    unsafe fn post(
        &self,
        send: bool,
        buf: *mut u8,
        bytes: Count,
        peer: usize,
        tag: std::ffi::c_int,
    ) -> (std::ffi::c_int, ffi::MPI_Request) {
        let mut req = std::mem::zeroed();
        let comm = self.world.as_raw();
        let peer = peer as std::ffi::c_int;
        let buf = buf as *mut std::ffi::c_void;
        let rc = if send {
            ffi::MPI_Isend(buf, bytes, ffi::RSMPI_UINT8_T, peer, tag, comm, &mut req)
        } else {
            ffi::MPI_Irecv(buf, bytes, ffi::RSMPI_UINT8_T, peer, tag, comm, &mut req)
        };
        (rc, req)
    }

    /// Posts a one-byte non-blocking send (or receive) of `*token` with `peer`, for an
    /// arrival check.
    ///
    /// # Safety
    /// `token` must stay valid until the request completes.
    unsafe fn post_token(
        &self,
        send: bool,
        token: *mut u8,
        peer: usize,
        tag: std::ffi::c_int,
    ) -> ffi::MPI_Request {
        self.post(send, token, 1, peer, tag).1
    }
}

/// Polls `requests` until all complete or `deadline` passes; returns which completed.
fn poll_until(requests: &mut [ffi::MPI_Request], deadline: std::time::Instant) -> Vec<bool> {
    let mut done = vec![false; requests.len()];
    let mut pause = std::time::Duration::from_micros(20);
    loop {
        for (req, d) in requests.iter_mut().zip(done.iter_mut()) {
            if !*d {
                let mut flag: std::ffi::c_int = 0;
                // SAFETY: a request posted by the caller and not yet completed.
                unsafe { ffi::MPI_Test(req, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
                *d = flag != 0;
            }
        }
        if done.iter().all(|&d| d) || std::time::Instant::now() >= deadline {
            return done;
        }
        // Back off: a rank waiting for a straggler must not take a core from it.
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(5));
    }
}

fn raw_datatype(dtype: DType) -> ffi::MPI_Datatype {
    // SAFETY: reading the library's predefined handles, valid after MPI_Init.
    unsafe {
        match dtype {
            DType::Float => ffi::RSMPI_FLOAT,
            DType::Double => ffi::RSMPI_DOUBLE,
            DType::Int32 => ffi::RSMPI_INT32_T,
            DType::Int64 => ffi::RSMPI_INT64_T,
            other => unreachable!("{other} never reaches MPI collectives (options reject it)"),
        }
    }
}

fn raw_op(op: ReduceOp) -> ffi::MPI_Op {
    // SAFETY: as above.
    unsafe {
        match op {
            ReduceOp::Sum => ffi::RSMPI_SUM,
            ReduceOp::Prod => ffi::RSMPI_PROD,
            ReduceOp::Min => ffi::RSMPI_MIN,
            ReduceOp::Max => ffi::RSMPI_MAX,
            ReduceOp::Band => ffi::RSMPI_BAND,
            ReduceOp::Bor => ffi::RSMPI_BOR,
            ReduceOp::Bxor => ffi::RSMPI_BXOR,
        }
    }
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn barrier(&self) {
        self.world.barrier();
    }

    fn all_reduce(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()> {
        ensure!(
            recv.len() % dtype.size() == 0,
            "all_reduce: buffer is not a whole number of {dtype}"
        );
        if let Some(s) = send {
            ensure!(
                s.len() == recv.len(),
                "all_reduce: send and receive buffers differ in size"
            );
        }
        let count = Count::try_from(recv.len() / dtype.size()).map_err(|_| {
            anyhow!(
                "all_reduce: {} elements exceed MPI's int count",
                recv.len() / dtype.size()
            )
        })?;
        // SAFETY: both buffers hold `count` elements of `dtype` and do not overlap
        // (Rust's borrow rules); MPI_IN_PLACE comes from the library's own header.
        let rc = unsafe {
            let send_ptr = match send {
                Some(s) => s.as_ptr() as *const std::ffi::c_void,
                None => clusterbench_mpi_in_place() as *const std::ffi::c_void,
            };
            ffi::MPI_Allreduce(
                send_ptr,
                recv.as_mut_ptr() as *mut std::ffi::c_void,
                count,
                raw_datatype(dtype),
                raw_op(op),
                self.world.as_raw(),
            )
        };
        if rc != 0 {
            bail!("MPI_Allreduce failed with error code {rc}");
        }
        Ok(())
    }

    fn all_gather(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        recv_count: usize,
        dtype: DType,
    ) -> Result<()> {
        self.block_collective(
            ("all_gather", "MPI_Allgather"),
            ffi::MPI_Allgather,
            send,
            1,
            recv,
            recv_count,
            dtype,
        )
    }

    fn reduce_scatter(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        recv_count: usize,
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()> {
        match send {
            Some(s) => {
                ensure_len("reduce_scatter", s, recv_count * self.size(), dtype)?;
                ensure_len("reduce_scatter", recv, recv_count, dtype)?;
            }
            None => ensure_len("reduce_scatter", recv, recv_count * self.size(), dtype)?,
        }
        let n = mpi_count("reduce_scatter", recv_count)?;
        // SAFETY: lengths checked above; in place, recv holds the whole input.
        let rc = unsafe {
            ffi::MPI_Reduce_scatter_block(
                send_ptr(send),
                recv.as_mut_ptr() as *mut std::ffi::c_void,
                n,
                raw_datatype(dtype),
                raw_op(op),
                self.world.as_raw(),
            )
        };
        check_rc("MPI_Reduce_scatter_block", rc)
    }

    fn broadcast(&self, buf: &mut [u8], count: usize, dtype: DType, root: usize) -> Result<()> {
        ensure_len("broadcast", buf, count, dtype)?;
        ensure!(root < self.size(), "broadcast: root {root} is not a rank");
        let n = mpi_count("broadcast", count)?;
        // SAFETY: buf holds `count` elements.
        let rc = unsafe {
            ffi::MPI_Bcast(
                buf.as_mut_ptr() as *mut std::ffi::c_void,
                n,
                raw_datatype(dtype),
                root as std::ffi::c_int,
                self.world.as_raw(),
            )
        };
        check_rc("MPI_Bcast", rc)
    }

    fn all_to_all(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        recv_count: usize,
        dtype: DType,
    ) -> Result<()> {
        let blocks = self.size();
        self.block_collective(
            ("all_to_all", "MPI_Alltoall"),
            ffi::MPI_Alltoall,
            send,
            blocks,
            recv,
            recv_count,
            dtype,
        )
    }

    fn send(&self, buf: &[u8], peer: usize) -> Result<()> {
        let n = mpi_count("send", buf.len())?;
        // SAFETY: buf holds n bytes.
        let rc = unsafe {
            ffi::MPI_Send(
                buf.as_ptr() as *const std::ffi::c_void,
                n,
                ffi::RSMPI_UINT8_T,
                peer as std::ffi::c_int,
                P2P_TAG,
                self.world.as_raw(),
            )
        };
        check_rc("MPI_Send", rc)
    }

    fn recv(&self, buf: &mut [u8], peer: usize) -> Result<()> {
        let n = mpi_count("recv", buf.len())?;
        // SAFETY: buf holds n bytes.
        let rc = unsafe {
            ffi::MPI_Recv(
                buf.as_mut_ptr() as *mut std::ffi::c_void,
                n,
                ffi::RSMPI_UINT8_T,
                peer as std::ffi::c_int,
                P2P_TAG,
                self.world.as_raw(),
                ffi::RSMPI_STATUS_IGNORE,
            )
        };
        check_rc("MPI_Recv", rc)
    }

    fn exchange(
        &self,
        send: &[u8],
        sends: usize,
        recv: &mut [u8],
        receives: usize,
        peer: usize,
    ) -> Result<()> {
        let slot = send.len();
        ensure!(
            slot.checked_mul(receives).is_some_and(|b| b <= recv.len()),
            "exchange: {receives} receives of {slot} bytes do not fit {} bytes",
            recv.len()
        );
        let n = mpi_count("exchange", slot)?;
        let mut requests = self.requests.borrow_mut();
        requests.clear();
        // Receives first, so that every send finds its receive posted.
        let slots = recv.as_mut_ptr();
        let posts = (0..receives)
            .map(|i| (false, slots.wrapping_add(i * slot)))
            .chain((0..sends).map(|_| (true, send.as_ptr() as *mut u8)));
        for (is_send, buf) in posts {
            // SAFETY: each slot lies inside recv (checked above); recv and send outlive
            // the requests: we wait for all of them below.
            let (rc, req) = unsafe { self.post(is_send, buf, n, peer, P2P_TAG) };
            requests.push(req);
            check_rc(if is_send { "MPI_Isend" } else { "MPI_Irecv" }, rc)?;
        }
        // SAFETY: every request was posted above.
        let rc = unsafe {
            ffi::MPI_Waitall(
                requests.len() as std::ffi::c_int,
                requests.as_mut_ptr(),
                ffi::RSMPI_STATUSES_IGNORE,
            )
        };
        check_rc("MPI_Waitall", rc)
    }

    fn arrive(&self, deadline: std::time::Instant) -> Result<(), Missing> {
        // Each check has its own tag, so a late message of an earlier one never counts.
        let tag = (ARRIVAL_TAG_BASE + self.arrivals.get() % ARRIVAL_TAGS) as std::ffi::c_int;
        self.arrivals.set(self.arrivals.get() + 1);
        let ranks = self.size();
        // Every pair exchanges as many messages each way (two), so that the check leaves
        // the transport between them as it found it. Open MPI's shared-memory fast boxes
        // are one ring per direction; a check that sent two messages one way and one
        // the other shifted the two rings by a slot against each other at every check,
        // and 4-8 B all-reduces then ran at one speed after one check and at another
        // (about 0.1 us apart on 2 ranks) after the next.
        //
        // Heap buffers, leaked when a rank is missing: its request may still be pending
        // (a missing rank is fatal: the caller ends the job).
        let mut tokens = vec![1u8; (2 * ranks).max(3)];
        let base = tokens.as_mut_ptr();
        if self.rank() == 0 {
            // First tell every rank that rank 0 is here (see below), then wait for them.
            let mut notices: Vec<ffi::MPI_Request> = (1..ranks)
                // SAFETY: token 0 lives until the requests complete (or is leaked).
                .map(|r| unsafe { self.post_token(true, base, r, tag) })
                .collect();
            // Each rank's two arrival tokens, into tokens 2r and 2r + 1.
            let mut requests: Vec<ffi::MPI_Request> = (1..ranks)
                .flat_map(|r| [2 * r, 2 * r + 1].map(|t| (r, t)))
                // SAFETY: token t lives until the request completes (or is leaked).
                .map(|(r, t)| unsafe { self.post_token(false, base.add(t), r, tag) })
                .collect();
            let done = poll_until(&mut requests, deadline);
            let missing: Vec<usize> = (1..ranks)
                .filter(|r| !(done[2 * (r - 1)] && done[2 * (r - 1) + 1]))
                .collect();
            if !missing.is_empty() {
                std::mem::forget(tokens);
                return Err(Missing { ranks: missing });
            }
            // Everyone is here: release them.
            notices.extend((1..ranks).map(|r| {
                // SAFETY: token 0 lives until the waitall below.
                unsafe { self.post_token(true, base, r, tag) }
            }));
            // SAFETY: every request was posted above.
            unsafe {
                ffi::MPI_Waitall(
                    notices.len() as std::ffi::c_int,
                    notices.as_mut_ptr(),
                    ffi::RSMPI_STATUSES_IGNORE,
                )
            };
        } else {
            // Rank 0's notice that it has arrived, then its release: two messages with
            // one tag from one sender, which MPI matches to these receives in order.
            let entered = std::time::Instant::now();
            // SAFETY: tokens 0, 1 and 2 live until the requests complete (or are leaked).
            let mut notice = unsafe { vec![self.post_token(false, base.add(2), 0, tag)] };
            // Two arrival tokens (see above), then the receive for the release.
            let mut requests = unsafe {
                vec![
                    self.post_token(true, base, 0, tag),
                    self.post_token(true, base, 0, tag),
                    self.post_token(false, base.add(1), 0, tag),
                ]
            };
            if !poll_until(&mut notice, deadline)[0] {
                std::mem::forget(tokens);
                return Err(Missing { ranks: vec![0] });
            }
            // Rank 0 is here and names any missing rank within its own wait, however
            // late it came: wait that long again from now before naming rank 0, so a
            // rank 0 that arrived late is never mistaken for a missing one.
            let release_by = deadline.max(std::time::Instant::now() + (deadline - entered));
            if !poll_until(&mut requests, release_by).iter().all(|&d| d) {
                std::mem::forget(tokens);
                return Err(Missing { ranks: vec![0] });
            }
        }
        Ok(())
    }

    fn gather_bytes(&self, data: &[u8]) -> Result<Vec<Vec<u8>>> {
        let root = self.world.process_at_rank(0);
        let len = Count::try_from(data.len()).map_err(|_| anyhow!("gather: message too large"))?;
        if self.world.rank() == 0 {
            let mut lens: Vec<Count> = vec![0; self.size()];
            root.gather_into_root(&len, &mut lens[..]);
            let displs: Vec<Count> = lens
                .iter()
                .scan(0, |acc, &l| {
                    let d = *acc;
                    *acc += l;
                    Some(d)
                })
                .collect();
            let total: usize = lens.iter().map(|&l| l as usize).sum();
            let mut buf = vec![0u8; total];
            {
                let mut part = PartitionMut::new(&mut buf[..], &lens[..], &displs[..]);
                root.gather_varcount_into_root(data, &mut part);
            }
            Ok(lens
                .iter()
                .zip(&displs)
                .map(|(&l, &d)| buf[d as usize..(d + l) as usize].to_vec())
                .collect())
        } else {
            root.gather_into(&len);
            root.gather_varcount_into(data);
            Ok(Vec::new())
        }
    }

    fn broadcast_bytes(&self, data: &[u8]) -> Result<Vec<u8>> {
        let root = self.world.process_at_rank(0);
        let mut len = data.len() as u64;
        root.broadcast_into(&mut len);
        let mut buf = if self.world.rank() == 0 {
            data.to_vec()
        } else {
            vec![0u8; len as usize]
        };
        root.broadcast_into(&mut buf[..]);
        Ok(buf)
    }

    fn library_version(&self) -> Option<String> {
        mpi::environment::library_version()
            .ok()
            .map(|v| v.trim_end_matches('\0').trim().to_string())
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    fn split(&self, color: Option<u32>) -> Result<Option<Box<dyn Communicator>>> {
        let color = match color {
            Some(c) => mpi::topology::Color::with_value(
                std::ffi::c_int::try_from(c).map_err(|_| anyhow!("split: color {c} too large"))?,
            ),
            None => mpi::topology::Color::undefined(),
        };
        Ok(self.world.split_by_color(color).map(|part| {
            Box::new(MpiComm {
                world: part,
                arrivals: std::cell::Cell::new(0),
                requests: Default::default(),
                _universe: None,
            }) as Box<dyn Communicator>
        }))
    }
}
