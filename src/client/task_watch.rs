//! Task statuses a server pushes (`notifications/tasks`, the tasks extension of 2026-07-28,
//! over `subscriptions/listen`), handed to the waits of one client: a wait registers its task
//! and wakes early when the task's state arrives, instead of at its next poll. Pushes are an
//! optimisation only: a wait polls `tasks/get` all the same, so a push lost (a subscription
//! restarting, a full channel) costs at most one poll interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::protocol::tasks::TaskState;
use crate::transport::Notification;

/// The method of a pushed task status.
pub(crate) const METHOD: &str = "notifications/tasks";

/// One wait: its task's id, and where that task's pushes go.
type Waiter = (String, Sender<Box<TaskState>>);

/// The waits of one client that want their task's pushes, by a serial number.
#[derive(Default)]
pub(crate) struct TaskWatch {
    waiting: Mutex<HashMap<u64, Waiter>>,
    next: AtomicU64,
}

impl TaskWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waiter>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pushed status (on the session's reader or listen thread): to every wait of its task,
    /// without blocking (a wait that has one unread already gets this one at its next poll).
    pub(crate) fn deliver(&self, server: &str, n: &Notification) {
        let Some(params) = &n.params else { return };
        let state = match TaskState::parse(&params.to_string()) {
            Ok(state) => state,
            Err(why) => {
                log::debug!("server={server}: ignoring a {METHOD} that is not a task: {why}");
                return;
            }
        };
        let waiters: Vec<Sender<Box<TaskState>>> =
            self.lock().values().filter(|(id, _)| *id == state.task_id).map(|(_, tx)| tx.clone()).collect();
        log::debug!("server={server}: task `{}` pushed as {} ({} waiting)", state.task_id, state.status, waiters.len());
        for tx in waiters {
            let _ = tx.try_send(Box::new(state.clone()));
        }
    }

    /// Registers a wait for `task_id`'s pushes: its serial number (for [`TaskWatch::forget`])
    /// and where they arrive.
    pub(crate) fn watch(&self, task_id: &str) -> (u64, Receiver<Box<TaskState>>) {
        let (tx, rx) = bounded(1);
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(n, (task_id.to_string(), tx));
        (n, rx)
    }

    /// Ends the wait `n`.
    pub(crate) fn forget(&self, n: u64) {
        self.lock().remove(&n);
    }

    /// The tasks some wait wants pushes of (the listen filter's `taskIds`).
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().values().map(|(id, _)| id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_reaches_the_waits_of_its_task_only() {
        let watch = TaskWatch::default();
        let (a, rx_a) = watch.watch("a");
        let (_b, rx_b) = watch.watch("b");
        assert_eq!(watch.ids(), ["a", "b"]);
        let push = |id: &str| Notification {
            method: METHOD.into(),
            params: Some(serde_json::json!({"taskId": id, "status": "completed", "result": {"content": []}})),
        };
        watch.deliver("s", &push("a"));
        watch.deliver("s", &push("a")); // a second one while the first is unread: dropped, not blocking
        assert_eq!(rx_a.try_recv().unwrap().task_id, "a");
        assert!(rx_a.try_recv().is_err() && rx_b.try_recv().is_err());
        watch.deliver("s", &Notification { method: METHOD.into(), params: Some(serde_json::json!({"x": 1})) });
        watch.forget(a);
        assert_eq!(watch.ids(), ["b"]);
    }
}
