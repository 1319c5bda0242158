fn main() -> std::process::ExitCode {
    relkit_core::cli::main(relkit_fake_github::run)
}
