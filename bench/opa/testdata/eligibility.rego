# The decision logic of Haven's policy engine, in Rego, for the comparison
# benchmark: walk the jurisdiction path from the root; a deciding version
# ends the walk with its first matching rule; a delegating version passes it
# on; a node with no version in force, or no matching rule, gets the nearest
# delegating ancestor's fallback. The data (data.haven.nodes) mirrors the
# 2021-09 seed pack, whose conditions are all residence-status tests.
package haven.eligibility



path := data.haven.nodes[input.jurisdiction].path

# version_at[code] is the version of node code in force on input.as_of.
version_at[code] := v if {
	some code in path
	some v in data.haven.nodes[code].versions
	v.from <= input.as_of
	input.as_of <= object.get(v, "to", "9999-12-31")
}

deciding := [i | some i, code in path; not version_at[code].delegates]

# stop is the index of the node where the walk ends.
stop := min(deciding) if count(deciding) > 0

stop := count(path) if count(deciding) == 0

matches(rule) if {
	input.service in rule.services
	not rule.statuses
}

matches(rule) if {
	input.service in rule.services
	input.facts.residence_status in rule.statuses
}

first_rule(rules) := rules[min(hits)] if {
	hits := [i | some i, r in rules; matches(r)]
	count(hits) > 0
}

own := first_rule(version_at[path[stop]].rules) if stop < count(path)

delegators := [i | some i, code in path; i < stop; version_at[code].delegates]

decision := {"outcome": own.outcome, "rule": own.id, "decided_by": path[stop], "chain": path, "fallback": false} if {
	own
}

decision := {"outcome": r.outcome, "rule": r.id, "decided_by": path[d], "chain": path, "fallback": true} if {
	not own
	count(delegators) > 0
	d := max(delegators)
	r := first_rule(version_at[path[d]].fallback)
}
