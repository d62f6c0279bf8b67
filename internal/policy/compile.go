package policy

import (
	"fmt"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
)

// Cost limits. A rule condition whose worst-case cost, estimated statically
// from the checked expression, exceeds ruleCostLimit is a load error; every
// program also runs under a runtime cost limit, so no pack can make a
// decision slow.
const (
	ruleCostLimit   = 1_000
	maxRulesPerList = 200
	maxConditionLen = 2_000
)

func celType(t FactType) *cel.Type {
	switch t {
	case TypeBool:
		return cel.BoolType
	case TypeInt:
		return cel.IntType
	case TypeDouble:
		return cel.DoubleType
	}
	return cel.StringType
}

// newEnv builds the checked CEL environment: one typed variable per fact.
func newEnv(extra []FactDecl) (*cel.Env, error) {
	opts := make([]cel.EnvOption, 0, len(BuiltinFacts)+len(extra))
	for _, d := range BuiltinFacts {
		opts = append(opts, cel.Variable(d.Name, celType(d.Type)))
	}
	for _, d := range extra {
		opts = append(opts, cel.Variable(d.Name, celType(d.Type)))
	}
	return cel.NewEnv(opts...)
}

// sizeEstimator bounds the size of string facts so that cost estimates are
// finite.
type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.Expr().Kind() == celast.IdentKind {
		return &cost.SizeEstimate{Min: 0, Max: maxStringFact}
	}
	return nil
}

func (sizeEstimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}

// compiled is a checked condition.
type compiled struct {
	ast    *cel.Ast
	prg    cel.Program
	idents []string
}

// compileCondition checks one condition: it must parse, type-check to bool,
// read only declared facts, compare residence_status only with known
// statuses, and stay under the cost limit. An empty condition means "always".
func (p *Pack) compileCondition(src string) (*compiled, error) {
	if strings.TrimSpace(src) == "" {
		src = "true"
	}
	if len(src) > maxConditionLen {
		return nil, fmt.Errorf("condition longer than %d characters", maxConditionLen)
	}
	ast, iss := p.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("CEL: %s", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("CEL: condition must be a bool, got %s", ast.OutputType())
	}
	c := &compiled{ast: ast}
	if err := checkStatuses(ast.NativeRep().Expr(), &c.idents); err != nil {
		return nil, err
	}
	est, err := p.env.EstimateCost(ast, sizeEstimator{})
	if err != nil {
		return nil, fmt.Errorf("CEL cost: %v", err)
	}
	if est.Max > ruleCostLimit {
		return nil, fmt.Errorf("CEL: condition may cost up to %d, over the limit of %d", est.Max, ruleCostLimit)
	}
	c.prg, err = p.program(ast, ruleCostLimit)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// program plans a checked expression with a runtime cost limit.
func (p *Pack) program(ast *cel.Ast, limit uint64) (cel.Program, error) {
	prg, err := p.env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("CEL program: %v", err)
	}
	return prg, nil
}

// checkStatuses walks a checked expression, records the identifiers it reads
// and rejects string constants compared with residence_status that are not
// statuses.
func checkStatuses(e celast.Expr, idents *[]string) error {
	var walkErr error
	var visit func(e celast.Expr)
	visit = func(e celast.Expr) {
		if walkErr != nil || e == nil {
			return
		}
		switch e.Kind() {
		case celast.IdentKind:
			name := e.AsIdent()
			for _, x := range *idents {
				if x == name {
					return
				}
			}
			*idents = append(*idents, name)
		case celast.CallKind:
			call := e.AsCall()
			args := call.Args()
			switch call.FunctionName() {
			case "_==_", "_!=_":
				if len(args) == 2 {
					if isStatusIdent(args[0]) {
						walkErr = checkStatusLiteral(args[1])
					} else if isStatusIdent(args[1]) {
						walkErr = checkStatusLiteral(args[0])
					}
				}
			case "@in":
				if len(args) == 2 && isStatusIdent(args[0]) && args[1].Kind() == celast.ListKind {
					for _, el := range args[1].AsList().Elements() {
						if walkErr = checkStatusLiteral(el); walkErr != nil {
							break
						}
					}
				}
			}
			if call.IsMemberFunction() {
				visit(call.Target())
			}
			for _, a := range args {
				visit(a)
			}
		case celast.ListKind:
			for _, el := range e.AsList().Elements() {
				visit(el)
			}
		case celast.SelectKind:
			visit(e.AsSelect().Operand())
		case celast.MapKind:
			for _, en := range e.AsMap().Entries() {
				me := en.AsMapEntry()
				visit(me.Key())
				visit(me.Value())
			}
		case celast.ComprehensionKind:
			c := e.AsComprehension()
			visit(c.IterRange())
			visit(c.AccuInit())
			visit(c.LoopCondition())
			visit(c.LoopStep())
			visit(c.Result())
		}
	}
	visit(e)
	return walkErr
}

func isStatusIdent(e celast.Expr) bool {
	return e.Kind() == celast.IdentKind && e.AsIdent() == "residence_status"
}

func checkStatusLiteral(e celast.Expr) error {
	if e.Kind() != celast.LiteralKind {
		return nil
	}
	s, ok := e.AsLiteral().(types.String)
	if !ok {
		return nil
	}
	if !ValidStatus(string(s)) {
		return fmt.Errorf("unknown residence status %q; want one of %s", string(s), statusList())
	}
	return nil
}

// compile checks and compiles every condition, then builds one program per
// version and service.
func (p *Pack) compile() error {
	for _, c := range p.Jurisdictions() {
		n := p.nodes[c]
		for _, v := range n.versions {
			if len(v.rules) > maxRulesPerList {
				return loadError(v.file, v.line, "", "jurisdiction %s: more than %d rules in one version", n.code, maxRulesPerList)
			}
			for _, r := range v.rules {
				cc, err := p.compileCondition(r.when)
				if err != nil {
					return loadError(r.file, r.line, r.id, "%v", err)
				}
				r.prg, r.idents = cc.prg, cc.idents
			}
			for si, s := range Services {
				sp := &serviceProgram{}
				var b strings.Builder
				for _, r := range v.rules {
					if !r.covers(s) {
						continue
					}
					cond := strings.TrimSpace(r.when)
					if cond == "" {
						cond = "true"
					}
					b.WriteString("(" + cond + ") ? " + strconv.Itoa(len(sp.rules)) + " : ")
					sp.rules = append(sp.rules, r)
				}
				if len(sp.rules) == 0 {
					continue
				}
				b.WriteString("-1")
				ast, iss := p.env.Compile(b.String())
				if iss != nil && iss.Err() != nil {
					return loadError(v.file, v.line, "", "jurisdiction %s: combining the rules for %s: %v", n.code, s, iss.Err())
				}
				// Each condition is bounded by ruleCostLimit; the ternaries add little.
				prg, err := p.program(ast, uint64(len(sp.rules)+1)*ruleCostLimit)
				if err != nil {
					return loadError(v.file, v.line, "", "jurisdiction %s: %v", n.code, err)
				}
				sp.prg = prg
				v.progs[si] = sp
			}
		}
	}
	for _, o := range p.obtainable {
		cc, err := p.compileCondition(o.when)
		if err != nil {
			return loadError(o.file, o.line, "", "obtainable status %s: %v", o.status, err)
		}
		o.prg = cc.prg
	}
	return nil
}
