fn main() -> std::process::ExitCode {
    relkit_core::cli::main(relkit_image::run)
}
