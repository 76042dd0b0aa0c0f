//! Signal wiring: Ctrl-C sets the interrupted flag that an apply honours.

use super::output::errln;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// First Ctrl-C: finish what is in flight (its state is recorded), start
/// nothing new. Second: stop at once; recorded intents make that safe too.
pub async fn watch_interrupts(interrupted: Arc<AtomicBool>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    interrupted.store(true, Ordering::SeqCst);
    errln!(
        "Interrupt received. Finishing the operations in flight; press Ctrl-C again to stop at once."
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        errln!("Stopping now. Run `htapsync plan` to see what is left.");
        std::process::exit(130);
    }
}
