fn main() {
    std::process::exit(clusterbench::app::main());
}
