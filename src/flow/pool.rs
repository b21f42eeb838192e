// SPDX-License-Identifier: MPL-2.0

//! Flow features of several frame pairs at once. One Farneback call uses one core, but the
//! pairs (t-1, t) and (t, t+1) are independent, so worker threads computing consecutive
//! pairs give the same results as one thread, faster, at the cost of holding frames back.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use super::farneback::{FarnebackFlow, FarnebackParams};
use super::gray::{GrayImage, PixelRect};
use super::stats::{FlowSummary, pool_average, summarize};

/// One frame pair to analyse.
#[derive(Clone)]
pub struct FlowRequest {
    pub prev: Arc<GrayImage>,
    pub next: Arc<GrayImage>,
    /// Shared by both frames.
    pub rect: PixelRect,
    pub params: FarnebackParams,
    pub grid_width: usize,
    pub grid_height: usize,
}

/// What the elements publish of one flow field.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowFeatures {
    pub summary: FlowSummary,
    /// Row-major `grid_width` x `grid_height` mean magnitudes.
    pub grid: Vec<f32>,
}

/// Reusable per-thread buffers.
#[derive(Default)]
pub struct FlowWorkspace {
    flow: FarnebackFlow,
    scratch: Vec<f32>,
}

impl FlowWorkspace {
    pub fn compute(&mut self, request: &FlowRequest) -> Result<FlowFeatures, String> {
        let field = self
            .flow
            .compute(&request.prev, &request.next, request.rect, &request.params)
            .map_err(|err| err.to_string())?;
        let mut grid = Vec::with_capacity(request.grid_width * request.grid_height);
        pool_average(
            field.magnitude,
            field.width,
            field.height,
            request.grid_width,
            request.grid_height,
            &mut grid,
        );
        let summary = summarize(field.magnitude, field.flow_xy, &mut self.scratch);
        Ok(FlowFeatures { summary, grid })
    }
}

type Reply = mpsc::SyncSender<Result<FlowFeatures, String>>;

/// The result of a submitted request, to wait for.
pub struct PendingFlow(mpsc::Receiver<Result<FlowFeatures, String>>);

impl PendingFlow {
    pub fn wait(self) -> Result<FlowFeatures, String> {
        self.0
            .recv()
            .unwrap_or_else(|_| Err("flow worker stopped".to_string()))
    }
}

/// Worker threads, each with its own OpenCV buffers.
pub struct FlowPool {
    jobs: Option<mpsc::Sender<(FlowRequest, Reply)>>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl FlowPool {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<(FlowRequest, Reply)>();
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            workers.push(
                thread::Builder::new()
                    .name(format!("alsflow-{i}"))
                    .spawn(move || {
                        let mut workspace = FlowWorkspace::default();
                        loop {
                            let job = queue.lock().map(|q| q.recv());
                            let Ok(Ok((request, reply))) = job else {
                                return;
                            };
                            // The requester may have gone (a flush); nothing to tell then.
                            let _ = reply.send(workspace.compute(&request));
                        }
                    })?,
            );
        }
        Ok(Self {
            jobs: Some(jobs),
            workers,
        })
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    pub fn submit(&self, request: FlowRequest) -> PendingFlow {
        let (reply, result) = mpsc::sync_channel(1);
        if let Some(jobs) = &self.jobs {
            // A failed send drops `reply`, and `wait` reports the stopped worker.
            let _ = jobs.send((request, reply));
        }
        PendingFlow(result)
    }
}

impl Drop for FlowPool {
    fn drop(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: usize, height: usize, shift: f32) -> Arc<GrayImage> {
        let data = (0..width * height)
            .map(|i| {
                let (x, y) = ((i % width) as f32 - shift, (i / width) as f32);
                (128.0 + 60.0 * (x * 0.2).sin() * (y * 0.15).cos()) as u8
            })
            .collect();
        Arc::new(GrayImage::from_vec(width, height, data).unwrap())
    }

    fn requests() -> Vec<FlowRequest> {
        let frames: Vec<_> = (0..6).map(|i| image(80, 60, i as f32 * 0.8)).collect();
        frames
            .windows(2)
            .map(|pair| FlowRequest {
                prev: pair[0].clone(),
                next: pair[1].clone(),
                rect: PixelRect::full(80, 60),
                params: FarnebackParams::default(),
                grid_width: 4,
                grid_height: 3,
            })
            .collect()
    }

    #[test]
    fn workers_give_the_single_thread_results_in_order() {
        let serial: Vec<_> = requests()
            .iter()
            .map(|r| FlowWorkspace::default().compute(r).unwrap())
            .collect();
        let pool = FlowPool::new(3).unwrap();
        assert_eq!(pool.threads(), 3);
        let pending: Vec<_> = requests().into_iter().map(|r| pool.submit(r)).collect();
        let parallel: Vec<_> = pending.into_iter().map(|p| p.wait().unwrap()).collect();
        assert_eq!(parallel, serial);
        assert!(
            serial
                .iter()
                .all(|f| f.summary.mean > 0.3 && f.grid.len() == 12)
        );
    }

    #[test]
    fn abandoned_results_do_not_block_the_pool() {
        let pool = FlowPool::new(1).unwrap();
        for r in requests() {
            drop(pool.submit(r));
        }
        let r = requests().remove(0);
        assert!(pool.submit(r).wait().is_ok());
    }

    #[test]
    fn a_bad_request_is_an_error_not_a_panic() {
        let pool = FlowPool::new(1).unwrap();
        let mut r = requests().remove(0);
        r.rect = PixelRect {
            x: 70,
            y: 0,
            width: 20,
            height: 10,
        };
        assert!(pool.submit(r).wait().is_err());
    }
}
