fn main() {
    println!("schema tour: to be filled by the schema DSL");
}
