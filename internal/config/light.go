package config

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"
)

// LoadLight reads what a CLI call needs from a config: the people and the gateway (checked as
// Load checks them), the names of the targets, and of the targets named in want their approvers
// and rotation.max_window_ahead. It neither validates the targets nor reads the incident
// section: with a thousand targets that cost about a third of a second of CPU on every call, and
// the worker validates the whole config (a run on a target it cannot load fails at once, in
// LoadPolicy). Use Load where more of a target matters.
func LoadLight(path string, want ...string) (*Config, error) {
	return load(path, func(b []byte, dir string) (*Config, error) { return ParseLight(b, dir, want...) })
}

// lightTarget is what ParseLight reads of a target.
type lightTarget struct {
	Approvers []string `yaml:"approvers"`
	Rotation  struct {
		MaxWindowAhead Duration `yaml:"max_window_ahead"`
	} `yaml:"rotation"`
}

// ParseLight decodes the part of a config that LoadLight reads. A config in plain block style
// (as runbook.yaml is written) is cut into its top-level sections and its targets by
// indentation, and only the people, the gateway and the wanted targets go through the YAML
// parser; anything else (flow style, anchors, several documents) is parsed whole. Unknown keys
// are left to Load.
func ParseLight(b []byte, dir string, want ...string) (*Config, error) {
	var (
		people  map[string]*Person
		gateway *Gateway
		targets map[string]*lightTarget
	)
	if cut, ok := cutBlocks(b); ok {
		var head struct {
			People  map[string]*Person `yaml:"people"`
			Gateway *Gateway           `yaml:"gateway"`
		}
		if err := yaml.Unmarshal(append(cut.people, cut.gateway...), &head); err != nil {
			return nil, err
		}
		people, gateway = head.People, head.Gateway
		targets = make(map[string]*lightTarget, len(cut.targets))
		for name, block := range cut.targets {
			t := &lightTarget{}
			if slices.Contains(want, name) {
				var one map[string]*lightTarget
				if err := yaml.Unmarshal(block, &one); err != nil {
					return nil, err
				}
				t = one[name]
			}
			targets[name] = t
		}
	} else {
		var raw struct {
			People  map[string]*Person      `yaml:"people"`
			Gateway *Gateway                `yaml:"gateway"`
			Targets map[string]*lightTarget `yaml:"targets"`
		}
		if err := yaml.Unmarshal(b, &raw); err != nil {
			return nil, err
		}
		people, gateway, targets = raw.People, raw.Gateway, raw.Targets
	}
	c := &Config{PeopleByName: people, Gateway: gateway, Dir: dir, Targets: make(map[string]*Target, len(targets))}
	if len(targets) == 0 {
		return nil, errors.New("targets: at least one target is required")
	}
	if err := c.validatePeople(); err != nil {
		return nil, err
	}
	for name, lt := range targets {
		if lt == nil {
			return nil, fmt.Errorf("targets.%s: empty target", name)
		}
		t := &Target{Name: name, Approvers: lt.Approvers}
		t.Rotation.MaxWindowAhead = lt.Rotation.MaxWindowAhead
		t.defaults()
		c.Targets[name] = t
	}
	return c, nil
}

// blocks is a block-style config cut by indentation: the people: and gateway: sections, and
// each target's entry as a one-key YAML document.
type blocks struct {
	people, gateway []byte
	targets         map[string][]byte
}

var (
	topKey    = regexp.MustCompile(`^([a-z_]+):[ \t]*(#.*)?$`)
	topInline = regexp.MustCompile(`^([a-z_]+):[ \t]+[^ \t#]`)
	targetKey = regexp.MustCompile(`^( +)([A-Za-z0-9_.-]+):[ \t]*(#.*)?$`)
)

// readsSection says ParseLight reads the top-level section name.
func readsSection(name string) bool {
	return name == "people" || name == "gateway" || name == "targets"
}

// closedFlow says a one-line value closes every flow bracket it opens, so no later line
// continues it.
func closedFlow(line []byte) bool {
	depth := 0
	for _, c := range line {
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"', '\'':
			return false // a quoted scalar may hold brackets; leave it to the parser
		}
	}
	return depth == 0
}

// cutBlocks cuts a config written in plain block style; ok is false for anything it does not
// recognise, and the caller parses the whole file instead.
func cutBlocks(b []byte) (blocks, bool) {
	if bytes.ContainsAny(b, "&*\t") || bytes.Contains(b, []byte("\n---")) || bytes.HasPrefix(b, []byte("---")) {
		return blocks{}, false // anchors, aliases, tabs, documents: leave them to the parser
	}
	out := blocks{targets: map[string][]byte{}}
	lines := bytes.SplitAfter(b, []byte("\n"))
	section, indent, current := "", "", ""
	for _, line := range lines {
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		if line[0] != ' ' {
			m := topKey.FindSubmatch(bytes.TrimRight(line, "\r\n"))
			if m == nil {
				// A section read only by Load may hold its value on its own line
				// (timeouts: {activity: 5s}); anything else goes to the parser.
				if m = topInline.FindSubmatch(line); m == nil || readsSection(string(m[1])) || !closedFlow(trimmed) {
					return blocks{}, false
				}
				section, indent, current = string(m[1]), "", ""
				continue
			}
			section, indent, current = string(m[1]), "", ""
			if section == "targets" {
				continue
			}
		}
		switch section {
		case "people":
			out.people = append(out.people, line...)
		case "gateway":
			out.gateway = append(out.gateway, line...)
		case "targets":
			if m := targetKey.FindSubmatch(bytes.TrimRight(line, "\r\n")); m != nil && (indent == "" || string(m[1]) == indent) {
				indent, current = string(m[1]), string(m[2])
				if _, dup := out.targets[current]; dup {
					return blocks{}, false
				}
			} else if current == "" || !bytes.HasPrefix(line, []byte(indent+" ")) {
				return blocks{}, false // a target written on one line, or an odd indentation
			}
			out.targets[current] = append(out.targets[current], line...)
		}
	}
	return out, true
}
