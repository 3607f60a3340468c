"""What counts as a definition in each language: one tree-sitter query per grammar.

Each pattern captures a definition node under the name of its kind
(`@function`, `@class`, `@constant`, ...) and, where the grammar has a name
field, the name node as `@name`. `@impl` (Rust) marks a scope that parents
methods but is not a symbol itself. Node and field names are those of the
grammars bundled in tree-sitter-language-pack 0.13 and tree-sitter-c-sharp 0.23;
a pattern naming a node a grammar lacks fails at compile time, which the tests
catch for every language.

`@assigned` (JavaScript, TypeScript) is a function or class assigned to a member
(`res.send = function`, `Foo.prototype.bar = function`, `module.exports.x = () =>`,
`exports.y = class`): a definition named after the property, whose parent is the
object (`Foo` for a prototype, whose kind is then method).
"""

from __future__ import annotations

_JS = """
(function_declaration name: (_) @name) @function
(generator_function_declaration name: (_) @name) @function
(class_declaration name: (_) @name) @class
(method_definition name: (_) @name) @method
(program (lexical_declaration (variable_declarator name: (identifier) @name) @constant))
(program (export_statement (lexical_declaration (variable_declarator name: (identifier) @name) @constant)))
(program (variable_declaration (variable_declarator name: (identifier) @name) @constant))
(program (export_statement (variable_declaration (variable_declarator name: (identifier) @name) @constant)))
(program (lexical_declaration (variable_declarator name: [
  (object_pattern [(shorthand_property_identifier_pattern) @name (pair_pattern value: (identifier) @name)])
  (array_pattern (identifier) @name)]) @constant))
(variable_declarator name: (identifier) @name
  value: [(function_expression) (arrow_function) (generator_function)]) @constant
(function_expression name: (identifier) @name) @function
(expression_statement (assignment_expression
  left: (member_expression property: (property_identifier))
  right: [(function_expression) (arrow_function) (generator_function) (class)]) @assigned)
"""
_TS = (
    _JS
    + """
(program (ambient_declaration
  [(lexical_declaration (variable_declarator name: (identifier) @name) @constant)
   (variable_declaration (variable_declarator name: (identifier) @name) @constant)]))
(abstract_class_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @interface
(type_alias_declaration name: (_) @name) @type
(enum_declaration name: (_) @name) @enum
(method_signature name: (_) @name) @method
(abstract_method_signature name: (_) @name) @method
(function_signature name: (_) @name) @function
(construct_signature) @method
(internal_module name: (_) @name) @namespace
(module name: (_) @name) @module
"""
)
_C = """
(function_definition) @function
(struct_specifier name: (_) @name body: (_)) @struct
(union_specifier name: (_) @name body: (_)) @struct
(enum_specifier name: (_) @name body: (_)) @enum
(type_definition) @type
(preproc_def name: (_) @name value: (_)) @constant
(preproc_def name: (_) @name !value) @macro
(preproc_function_def name: (_) @name) @macro
"""
QUERIES: dict[str, str] = {
    "python": """
(function_definition name: (identifier) @name) @function
(class_definition name: (identifier) @name) @class
(module (assignment left: (identifier) @name) @constant)
(module (type_alias_statement) @type)
""",
    "javascript": _JS,
    "typescript": _TS,
    "tsx": _TS,
    "go": """
(function_declaration name: (_) @name) @function
(method_declaration name: (_) @name) @method
(method_elem name: (_) @name) @method
(type_spec name: (_) @name) @type
(type_alias name: (_) @name) @type
(source_file (const_declaration (const_spec name: (_) @name) @constant))
""",
    "java": """
(class_declaration name: (_) @name) @class
(record_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @interface
(annotation_type_declaration name: (_) @name) @interface
(annotation_type_element_declaration name: (_) @name) @method
(enum_declaration name: (_) @name) @enum
(method_declaration name: (_) @name) @method
(constructor_declaration name: (_) @name) @method
(field_declaration declarator: (variable_declarator name: (_) @name)) @constant
(constant_declaration declarator: (variable_declarator name: (_) @name)) @constant
""",
    "rust": """
(function_item name: (_) @name) @function
(function_signature_item name: (_) @name) @function
(struct_item name: (_) @name) @struct
(union_item name: (_) @name) @struct
(enum_item name: (_) @name) @enum
(trait_item name: (_) @name) @trait
(type_item name: (_) @name) @type
(associated_type name: (_) @name) @type
(const_item name: (_) @name) @constant
(static_item name: (_) @name) @constant
(mod_item name: (_) @name) @module
(macro_definition name: (_) @name) @macro
(impl_item) @impl
""",
    "c": _C,
    "cpp": _C
    + """
(class_specifier name: (_) @name body: (_)) @class
(namespace_definition name: (_) @name) @namespace
(alias_declaration name: (_) @name) @type
(field_declaration_list (field_declaration) @method)
(field_declaration_list (declaration) @method)
""",
    "ruby": """
(method name: (_) @name) @method
(singleton_method name: (_) @name) @method
(class name: (_) @name) @class
(module name: (_) @name) @module
(assignment left: (constant) @name) @constant
""",
    "csharp": """
(class_declaration name: (_) @name) @class
(record_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @interface
(struct_declaration name: (_) @name) @struct
(enum_declaration name: (_) @name) @enum
(delegate_declaration name: (_) @name) @type
(method_declaration name: (_) @name) @method
(constructor_declaration name: (_) @name) @method
(property_declaration name: (_) @name) @property
(operator_declaration) @method
(conversion_operator_declaration) @method
(namespace_declaration name: (_) @name) @namespace
(file_scoped_namespace_declaration name: (_) @name) @namespace
(field_declaration (variable_declaration (variable_declarator name: (_) @name))) @constant
""",
}
SUPPORTED = frozenset(QUERIES)
