#[ablo::model]
pub struct Everything {
    pub pair: (String, i32),
    pub bytes: [u8; 16],
    pub lookup: std::collections::BTreeMap<String, i64>,
    pub callback: fn(i32) -> i32,
    pub dynamic: Box<dyn std::fmt::Debug>,
    pub size: usize,
    pub huge: u128,
    pub letter: char,
    pub names: Vec<std::collections::HashSet<String>>,
    pub unit: (),
}

fn main() {}
