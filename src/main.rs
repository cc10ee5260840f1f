//! The `kith` command: parses the command line and hands over to the library.

/// sled allocates and frees small buffers on every write; mimalloc serves
/// that pattern markedly faster than the system allocator (see
/// `docs/BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kith::cli::main()
}
