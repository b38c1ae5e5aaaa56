//! Password hashes computed at once. Each takes 19 MiB and ~25 ms of a core, so a
//! flood of sign-ins queues here instead of exhausting memory; and one client
//! network holds at most one slot at a time, so sixty requests from one place
//! wait behind each other rather than in front of everyone else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// Slots one client network may hold at once.
const PER_NETWORK: usize = 1;

pub struct HashSlots {
    global: Semaphore,
    /// A semaphore per network that has a sign-in waiting or hashing; gone when
    /// the last of them is done.
    networks: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// One hash may run while this is held.
pub struct HashSlot<'a> {
    slots: &'a HashSlots,
    network: String,
    _global: SemaphorePermit<'a>,
    own: Option<OwnedSemaphorePermit>,
}

impl HashSlots {
    pub fn new(concurrent: usize) -> HashSlots {
        HashSlots { global: Semaphore::new(concurrent), networks: Mutex::new(HashMap::new()) }
    }

    /// Waits for this network's turn, then for a free slot. `network` is the
    /// client's network as a keyed hash, or a fixed name for clients whose
    /// network is not known (they share one turn).
    pub async fn acquire(&self, network: &str) -> HashSlot<'_> {
        let own = {
            let mut map = self.networks.lock().expect("hash slots");
            map.entry(network.to_string()).or_insert_with(|| Arc::new(Semaphore::new(PER_NETWORK))).clone()
        };
        let own = own.acquire_owned().await.expect("never closed");
        let global = self.global.acquire().await.expect("never closed");
        HashSlot { slots: self, network: network.to_string(), _global: global, own: Some(own) }
    }
}

impl Drop for HashSlot<'_> {
    fn drop(&mut self) {
        drop(self.own.take());
        let mut map = self.slots.networks.lock().expect("hash slots");
        // Only the map holds it now: nobody from this network is waiting.
        if map.get(&self.network).is_some_and(|s| Arc::strong_count(s) == 1) {
            map.remove(&self.network);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_network_cannot_take_every_slot() {
        let slots = Arc::new(HashSlots::new(2));
        let first = slots.acquire("a").await;
        // A second request from the same network waits, though a slot is free.
        let waiting = {
            let slots = slots.clone();
            tokio::spawn(async move {
                let _slot = slots.acquire("a").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the same network got a second slot");
        // Another network gets the free one at once.
        let other = tokio::time::timeout(Duration::from_millis(50), slots.acquire("b")).await;
        assert!(other.is_ok(), "another network waited behind the first");
        drop(other);
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), waiting).await.unwrap().unwrap();
        assert!(slots.networks.lock().unwrap().is_empty(), "networks nobody waits for are forgotten");
    }
}
