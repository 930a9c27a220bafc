package app

import (
	"bytes"
	"fmt"
)

// Merge applies a partial update (PUT /v2/apps/{id}, Marathon's default
// partialUpdate=true) to current and returns the result, normalized and
// ready for Validate. current is not modified.
//
// Every top-level field that patch carries with a non-null value replaces
// the current one as a whole (a patched healthChecks list replaces the
// list, and the new checks get defaults for what they leave out); an
// absent or null field leaves the current value unchanged. "ports" and
// "portDefinitions" are one field, and so are "cmd" and "args", which
// exclude each other: a patch giving only args drops the current cmd, and
// one giving only cmd drops the current args. "version" and "versionInfo" are never
// taken from the patch. An "id" in the patch must name the same app as
// current (after CanonicalID), or Merge returns a *ValidationError on /id.
// A patch that is not a JSON object or has wrongly typed fields gives an
// *InvalidJSON, as with Decode.
//
// The patch is read with DecodeRequest for fw: its unknown fields come
// back as warnings, and the fields corral does not implement that it gives
// non-default values are left for Validate to refuse. Only the patch is
// judged so: what current holds was accepted when it was stored, and a
// scale of an app stored before a refusal existed still passes.
func Merge(current App, patch []byte, fw Framework) (App, []Warning, error) {
	p, ws, err := DecodeRequest(patch, fw)
	if err != nil {
		return App{}, nil, err
	}
	out := current
	out.Normalize()
	if p.given.top&(1<<fID) != 0 && CanonicalID(p.ID) != out.ID {
		return App{}, nil, validationError([]Detail{{Path: "/id", Errors: []string{
			fmt.Sprintf("%q does not match the app being updated (%s)", p.ID, out.ID)}}})
	}
	g := &given{top: 1<<numFields - 1, upgrade: upgradeMin | upgradeMax | upgradeDeadline}
	g.hc = make([]uint16, len(out.HealthChecks))
	for i := range g.hc {
		g.hc[i] = hcGrace | hcInterval | hcTimeout | hcMaxFailures | hcDelay
	}
	g.rc = make([]uint8, len(out.ReadinessChecks))
	for i := range g.rc {
		g.rc[i] = rcName | rcPath | rcPortName | rcInterval | rcTimeout | rcCodes | rcProtocol
	}
	for i, f := range fields {
		if p.given.top&(1<<i) == 0 {
			continue
		}
		f.copy(&out, &p)
		switch i {
		case fHealthChecks:
			g.hc = p.given.hc
		case fReadinessChecks:
			g.rc = p.given.rc
		case fUpgradeStrategy:
			g.upgrade = p.given.upgrade
		}
	}
	switch patched := p.given.top; {
	case patched&(1<<fArgs) != 0 && patched&(1<<fCmd) == 0:
		out.Cmd = nil
	case patched&(1<<fCmd) != 0 && patched&(1<<fArgs) == 0:
		out.Args = nil
	}
	// Problems found in the patch stay; those of replaced fields go, and
	// so do refusals of unsupported fields, which are about the request
	// that made current, not about this one.
	var problems []problem
	for _, pr := range current.problems {
		if !pr.unsupported && p.given.top&(1<<pr.field) == 0 {
			problems = append(problems, pr)
		}
	}
	out.problems = append(problems, p.problems...)
	out.given = g
	out.normalized = false
	out.Normalize()
	return out, ws, nil
}

// OnlyScale reports whether updated differs from old in instances and in
// nothing else that matters to tasks (version and versionInfo are
// ignored), so that the change is a scale rather than a restart. It is
// false when instances are equal. Both apps should be normalized.
func OnlyScale(old, updated App) bool {
	return old.Instances != updated.Instances && ConfigEqual(old, updated)
}

// ConfigEqual reports whether a and b define the same app, ignoring
// instances, version and versionInfo: that is, whether their tasks are
// interchangeable. It compares the JSON forms, so nil and empty maps and
// lists count as equal, as do differently spaced compatibility fields.
// Apps that cannot be written as JSON (NaN resources) are never equal.
// Both apps should be normalized.
func ConfigEqual(a, b App) bool {
	for _, x := range []*App{&a, &b} {
		x.Instances, x.Version, x.VersionInfo = 0, "", nil
	}
	ja, err := a.MarshalJSON()
	if err != nil {
		return false
	}
	jb, err := b.MarshalJSON()
	if err != nil {
		return false
	}
	return bytes.Equal(ja, jb)
}
