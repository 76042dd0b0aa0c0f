//! The binary edge: everything happens in [`htapsync::cli`].

/// mimalloc instead of the system allocator: a run makes millions of small
/// allocations (configuration, diff, requests, output), and glibc's malloc
/// spent about a quarter of a `plan`'s CPU on them (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    htapsync::cli::main()
}
