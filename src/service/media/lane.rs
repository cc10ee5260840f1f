//! The slow lane: a few threads at the lowest CPU priority that do the file
//! work of transfers — hashing and writing upload chunks, reading download
//! chunks. On a busy machine the scheduler then runs chat first and gives
//! transfers what is left; on an idle one they run at full speed all the
//! same ([`crate::priority`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use crate::service::{ServiceError, ServiceResult};

/// Threads of the lane: two transfers' chunks are worked on at once, and a
/// chunk waiting for the disk does not hold up another's.
const THREADS: usize = 2;

type Job = Box<dyn FnOnce() + Send>;

/// Where transfers' file work runs.
pub(crate) struct Lane {
    jobs: mpsc::Sender<Job>,
}

impl Lane {
    /// Starts the lane's threads; they end when the lane is dropped.
    pub(crate) fn start() -> std::io::Result<Lane> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..THREADS {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("kith-files-{i}")).spawn(move || {
                crate::priority::lowest();
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    match next {
                        Ok(job) => job(),
                        Err(mpsc::RecvError) => return,
                    }
                }
            })?;
        }
        Ok(Lane { jobs })
    }

    /// Runs `work` in the lane and waits for its result.
    pub(crate) async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job = Box::new(move || {
            let _ = done.send(catch_unwind(AssertUnwindSafe(work)));
        });
        let failed = |what: &str| ServiceError::Storage(std::io::Error::other(format!("file work {what}")).into());
        self.jobs.send(job).map_err(|_| failed("stopped"))?;
        result.await.map_err(|_| failed("stopped"))?.map_err(|_| failed("panicked"))
    }
}
