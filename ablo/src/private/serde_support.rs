//! Deserializers the generated enum and patch impls share.

/// Deserializes one of `values` and returns its position; anything else
/// fails with an error listing every allowed value.
pub fn deserialize_enum_index<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    expecting: &'static str,
    values: &'static [&'static str],
) -> Result<usize, D::Error> {
    struct Visit {
        expecting: &'static str,
        values: &'static [&'static str],
    }
    impl serde::de::Visitor<'_> for Visit {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}, one of {:?}", self.expecting, self.values)
        }
        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<usize, E> {
            self.values
                .iter()
                .position(|v| *v == value)
                .ok_or_else(|| E::unknown_variant(value, self.values))
        }
    }
    deserializer.deserialize_str(Visit { expecting, values })
}

/// A generated patch type (`TaskPatch`): the wire names of its fields and
/// how to read one of them.
pub trait PatchFields: Default {
    /// The patch type's name, for error messages.
    const NAME: &'static str;
    /// Wire names of the fields, in declaration order.
    const FIELDS: &'static [&'static str];
    /// Reads the value of field `index` from `map` and sets it.
    fn deserialize_field<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        index: usize,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// Deserializes a patch from a map: each known key sets its field, a key
/// given twice is an error, unknown keys are ignored.
pub fn deserialize_patch<'de, D: serde::Deserializer<'de>, P: PatchFields>(
    deserializer: D,
) -> Result<P, D::Error> {
    struct Visit<P>(std::marker::PhantomData<P>);
    impl<'de, P: PatchFields> serde::de::Visitor<'de> for Visit<P> {
        type Value = P;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a {} object", P::NAME)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<P, A::Error> {
            let mut patch = P::default();
            let mut seen = vec![false; P::FIELDS.len()];
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match P::FIELDS.iter().position(|field| *field == key) {
                    Some(index) if seen[index] => {
                        return Err(serde::de::Error::duplicate_field(P::FIELDS[index]));
                    }
                    Some(index) => {
                        seen[index] = true;
                        patch.deserialize_field(index, &mut map)?;
                    }
                    None => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
            }
            Ok(patch)
        }
    }
    deserializer.deserialize_map(Visit(std::marker::PhantomData))
}
