//! Format-preserving YAML editing and JSONPath over YAML with byte spans.
