package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// schemaCheck walks the parsed document against the schema before it is decoded, so that an
// unknown key, an inline value where a reference belongs or a bad duration is reported by its
// path (targets.demo.deployer.argvv) rather than by line and Go type, and so that the error never
// quotes the value: an inline "reference" is probably a pasted secret. What it does not check is
// left to the decoder, and so is a document whose aliases would make the walk too long.
// An alias can refer to a mapping that contains it, so the walk is bounded in depth and length.
type schemaCheck struct{ budget, depth int }

// maxSchemaDepth is far deeper than the schema; only a self-referencing alias reaches it.
const maxSchemaDepth = 64

// checkSchema checks a parsed config document against Config.
func checkSchema(doc *yaml.Node) error {
	return (&schemaCheck{budget: 1 << 16}).node("", doc, reflect.TypeOf(Config{}))
}

// node checks n against t; path names n in errors ("" for the document).
func (c *schemaCheck) node(path string, n *yaml.Node, t reflect.Type) error {
	for ; n != nil && n.Kind == yaml.AliasNode; n = n.Alias {
		if c.budget--; c.budget < 0 {
			return nil
		}
	}
	if c.budget--; n == nil || c.budget < 0 || c.depth >= maxSchemaDepth {
		return nil
	}
	c.depth++
	defer func() { c.depth-- }()
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return c.node(path, n.Content[0], t)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		if t == reflect.TypeOf(Key{}) { // the decoder would drop it from the list silently
			return fmt.Errorf("%s: a public key (an authorized_keys line) or {file: PATH} is required", path)
		}
		return nil
	}
	sub := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch t {
	case reflect.TypeOf(Key{}):
		switch n.Kind {
		case yaml.ScalarNode:
			return nil // checked at load, by parsing
		case yaml.MappingNode: // only file is known: left to the struct walk below
		default:
			return fmt.Errorf("%s: must be a public key (an authorized_keys line) or {file: PATH}", path)
		}
	case reflect.TypeOf(Quorum{}):
		// Checked here because after decoding an explicit 0 looks like "not given".
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if _, ok := yamlField(t, k.Value); !ok {
					continue // reported by the struct walk below
				}
				var q int
				if v.Kind != yaml.ScalarNode || v.Decode(&q) != nil || q < 1 {
					return fmt.Errorf("%s: must be a whole number, at least 1", sub(k.Value))
				}
			}
		}
	case reflect.TypeOf(Ref{}):
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: must be a reference {env: NAME} or {file: PATH}; values are never inline", path)
		}
	case reflect.TypeOf(false):
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			return fmt.Errorf("%s: must be true or false, got %q", path, n.Value)
		}
		return nil
	case reflect.TypeOf(Duration(0)):
		d, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return fmt.Errorf("%s: %q is not a duration like 15m or 2h", path, n.Value)
		}
		if d < 0 {
			return fmt.Errorf("%s: %q is negative", path, n.Value)
		}
		return nil
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, dup := seen[k.Value]; dup && k.Tag != "!!merge" {
				return fmt.Errorf("%s: defined twice (lines %d and %d)", sub(k.Value), line, k.Line)
			}
			seen[k.Value] = k.Line
		}
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" { // <<: *base or <<: [*a, *b]
				for v.Kind == yaml.AliasNode && v.Alias != nil {
					v = v.Alias
				}
				items := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					items = v.Content
				}
				for _, item := range items {
					if err := c.node(path, item, t); err != nil {
						return err
					}
				}
				continue
			}
			f, ok := yamlField(t, k.Value)
			if !ok {
				return fmt.Errorf("%s: unknown key (known: %s)", sub(k.Value), strings.Join(yamlFields(t), ", "))
			}
			if err := c.node(sub(k.Value), v, f.Type); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := c.node(sub(n.Content[i].Value), n.Content[i+1], t.Elem()); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			if err := c.node(fmt.Sprintf("%s[%d]", path, i), item, t.Elem()); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && (n.Kind == yaml.ScalarNode || n.Kind == yaml.MappingNode):
		return fmt.Errorf("%s: must be a list", path)
	case (t.Kind() == reflect.Struct || t.Kind() == reflect.Map) && (n.Kind == yaml.ScalarNode || n.Kind == yaml.SequenceNode):
		if path == "" {
			return errors.New("the config must be a mapping of sections (targets, people, gateway, incident)")
		}
		return fmt.Errorf("%s: must be a mapping", path)
	}
	return nil
}

// yamlField finds the struct field that a YAML key decodes into.
func yamlField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// yamlFields lists the keys a struct accepts.
func yamlFields(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}
