//! The binary edge: everything happens in [`htapsync::cli`].

fn main() -> std::process::ExitCode {
    htapsync::cli::main()
}
