fn main() -> std::process::ExitCode {
    relkit::main()
}
