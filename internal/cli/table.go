package cli

import (
	"strings"
	"unicode/utf8"
)

// table is rows of cells under a header, rendered for people: columns
// aligned, separated by three spaces, no trailing blanks. Rows keep the
// order they were added in; callers sort them first. An empty cell is
// shown as "-", so that columns never look shifted.
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

// add appends a row; missing cells are empty, extra cells are dropped.
func (t *table) add(cells ...string) {
	row := make([]string, len(t.header))
	copy(row, cells)
	t.rows = append(t.rows, row)
}

// String renders the table.
func (t *table) String() string {
	all := append([][]string{t.header}, t.rows...)
	widths := make([]int, len(t.header))
	for _, row := range all {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell(c)))
		}
	}
	var b strings.Builder
	for _, row := range all {
		var line strings.Builder
		for i, c := range row {
			c = cell(c)
			line.WriteString(c)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+3))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// cell makes a cell printable on one line.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	if strings.ContainsAny(s, "\n\r\t") {
		s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ").Replace(s)
	}
	return s
}

// kv renders "Key:  value" lines with the values aligned; for blocks such
// as `app show`. Empty values are shown as "-".
type kv struct {
	pairs [][2]string
}

func (k *kv) add(key, value string) { k.pairs = append(k.pairs, [2]string{key, value}) }

// String renders the block.
func (k *kv) String() string {
	w := 0
	for _, p := range k.pairs {
		w = max(w, utf8.RuneCountInString(p[0]))
	}
	var b strings.Builder
	for _, p := range k.pairs {
		v := p[1]
		if v == "" {
			v = "-"
		}
		b.WriteString(p[0] + ":" + strings.Repeat(" ", w-utf8.RuneCountInString(p[0])+2))
		// Continuation lines line up under the first.
		b.WriteString(strings.ReplaceAll(v, "\n", "\n"+strings.Repeat(" ", w+3)))
		b.WriteByte('\n')
	}
	return b.String()
}
