//! Consistency checks on a descriptor before anything is rendered, so a
//! descriptor that contradicts itself fails with one clear error instead of
//! producing output that does not compile.

use ablo_runtime::SchemaDescriptor;

use crate::CodegenError;

/// Checks the descriptor against the schema rules every part of Ablo
/// shares ([`ablo_runtime::schema::validate`]: names, references, reserved
/// fields), reporting the first problem, then that every model and object
/// carries its ts-rs declaration and JSON Schema.
pub(crate) fn validate(descriptor: &SchemaDescriptor) -> Result<(), CodegenError> {
    if let Err(problems) = ablo_runtime::schema::validate(descriptor) {
        let first = problems.into_iter().next().expect("at least one problem");
        return Err(CodegenError::invalid(first.element, first.problem));
    }
    for object in &descriptor.objects {
        require_declarations(
            &format!("object {}", object.name),
            &object.ts,
            &object.json_schema,
        )?;
    }
    for model in &descriptor.models {
        require_declarations(
            &format!("model {}", model.name),
            &model.ts,
            &model.json_schema,
        )?;
    }
    Ok(())
}

fn require_declarations(
    element: &str,
    ts: &str,
    json_schema: &serde_json::Value,
) -> Result<(), CodegenError> {
    if ts.trim().is_empty() {
        return Err(CodegenError::invalid(
            element,
            "has no TypeScript declaration (`ts` is empty); build the descriptor with `#[ablo::model]`/`#[ablo::object]`",
        ));
    }
    if !json_schema
        .get("properties")
        .is_some_and(serde_json::Value::is_object)
    {
        return Err(CodegenError::invalid(
            element,
            "its JSON Schema (`jsonSchema`) has no `properties` object",
        ));
    }
    Ok(())
}

/// Whether `name` is a TypeScript (and Rust) identifier in ASCII.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The names one output file declares, to report collisions clearly.
pub(crate) struct NameTable {
    output: &'static str,
    owners: std::collections::BTreeMap<String, String>,
}

impl NameTable {
    pub(crate) fn new(output: &'static str) -> Self {
        NameTable {
            output,
            owners: Default::default(),
        }
    }

    /// Records that `owner` declares `name`; fails if another owner did.
    pub(crate) fn claim(
        &mut self,
        name: &str,
        owner: impl Into<String>,
    ) -> Result<(), CodegenError> {
        let owner = owner.into();
        if let Some(first) = self.owners.get(name) {
            return Err(CodegenError::NameCollision {
                output: self.output,
                name: name.to_owned(),
                first: first.clone(),
                second: owner,
            });
        }
        self.owners.insert(name.to_owned(), owner);
        Ok(())
    }
}
