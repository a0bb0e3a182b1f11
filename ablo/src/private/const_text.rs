//! Compile-time checks of `ablo::schema!` that must build their message in a
//! constant.

/// Capacity of the message [`duplicate_model_name`] writes.
pub const DUPLICATE_MESSAGE_CAPACITY: usize = 1024;

/// For `ablo::schema!`: if entry `index` has the wire name of an earlier
/// entry, a message naming both (as UTF-8 bytes and their length; the
/// length is 0 when the name is unique). Runs at compile time.
pub const fn duplicate_model_name(
    names: &[&str],
    labels: &[&str],
    index: usize,
) -> ([u8; DUPLICATE_MESSAGE_CAPACITY], usize) {
    let mut message = Message {
        bytes: [0; DUPLICATE_MESSAGE_CAPACITY],
        len: 0,
    };
    let mut earlier = 0;
    while earlier < index {
        if str_eq(names[earlier], names[index]) {
            message.push("ablo::schema!: entries ");
            message.push(labels[earlier]);
            message.push(" and ");
            message.push(labels[index]);
            message.push(" have the same model wire name `");
            message.push(names[index]);
            message.push("`; give one of them another name with `#[ablo::model(name = \"...\")]`");
            return (message.bytes, message.len);
        }
        earlier += 1;
    }
    (message.bytes, 0)
}

/// A fixed-capacity text buffer for compile-time messages; text past the
/// capacity is dropped at a character boundary.
struct Message {
    bytes: [u8; DUPLICATE_MESSAGE_CAPACITY],
    len: usize,
}

impl Message {
    const fn push(&mut self, text: &str) {
        let text = text.as_bytes();
        let mut i = 0;
        while i < text.len() && self.len < DUPLICATE_MESSAGE_CAPACITY {
            // Stop before a multi-byte character that would not fit.
            if text[i] & 0xC0 != 0x80 && self.len + utf8_width(text[i]) > DUPLICATE_MESSAGE_CAPACITY
            {
                return;
            }
            self.bytes[self.len] = text[i];
            self.len += 1;
            i += 1;
        }
    }
}

const fn utf8_width(first: u8) -> usize {
    if first < 0x80 {
        1
    } else if first >= 0xF0 {
        4
    } else if first >= 0xE0 {
        3
    } else {
        2
    }
}

/// String equality usable in constants.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
