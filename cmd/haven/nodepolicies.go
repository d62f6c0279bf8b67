package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/haven-registry/haven/internal/nodesync"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/syncwire"
)

// Policy packs travel from the central to its nodes: the central offers
// every file of its pack folders; a node keeps each version it receives in
// DATA/sync/policies/<version>/ and decides with the newest, also after a
// restart and while offline.

// policyBundle reads every file of the packs in fsys (each folder with a
// pack.yaml).
func policyBundle(fsys fs.FS) (*syncwire.PolicyBundle, error) {
	files := map[string]string{}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(e.Name(), "pack.yaml")); err != nil {
			continue
		}
		err := fs.WalkDir(fsys, e.Name(), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			files[p] = string(b)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return &syncwire.PolicyBundle{Version: syncwire.PolicyVersion(files), Files: files}, nil
}

// nodePolicyDir is where a node keeps the central's packs of a version.
func nodePolicyDir(env *commandEnv, version string) string {
	return filepath.Join(env.DataDir, "sync", "policies", strings.TrimPrefix(version, "sha256:"))
}

// nodePolicyCurrent names the version a node decides with.
func nodePolicyCurrent(env *commandEnv) string {
	return filepath.Join(env.DataDir, "sync", "policies", "current")
}

// nodePolicies loads the packs a node last copied from its central, or
// returns nil when it has none yet.
func nodePolicies(env *commandEnv) (*policy.Engine, error) {
	v, err := os.ReadFile(nodePolicyCurrent(env))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return loadPolicies(nodePolicyDir(env, strings.TrimSpace(string(v))))
}

// installPolicies fetches the central's packs, checks their version, keeps
// them and makes them current.
func installPolicies(env *commandEnv, client *nodesync.Client) func(ctx context.Context, version string) (*policy.Engine, error) {
	return func(ctx context.Context, version string) (*policy.Engine, error) {
		b, err := client.Policies(ctx)
		if err != nil {
			return nil, err
		}
		if b.Version != version {
			return nil, fmt.Errorf("the central offered policy packs %s, not %s", b.Version, version)
		}
		dir := nodePolicyDir(env, b.Version)
		tmp := dir + ".tmp"
		if err := os.RemoveAll(tmp); err != nil {
			return nil, err
		}
		for p, content := range b.Files {
			clean := path.Clean(p)
			if !fs.ValidPath(clean) || strings.HasPrefix(clean, "..") {
				return nil, fmt.Errorf("the central's policy packs name a bad path %q", p)
			}
			dst := filepath.Join(tmp, filepath.FromSlash(clean))
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(dst, []byte(content), 0o600); err != nil {
				return nil, err
			}
		}
		// They must load before they replace anything.
		if _, err := loadPolicies(tmp); err != nil {
			return nil, err
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return nil, err
		}
		cur := nodePolicyCurrent(env)
		if err := os.WriteFile(cur+".tmp", []byte(b.Version+"\n"), 0o600); err != nil {
			return nil, err
		}
		if err := os.Rename(cur+".tmp", cur); err != nil {
			return nil, err
		}
		return loadPolicies(dir)
	}
}
