package mesos

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxRecordSize bounds a single RecordIO record accepted by Reader, so a
// corrupt or hostile length prefix cannot make a reader allocate without
// limit.
const MaxRecordSize = 64 << 20

// WriteRecord writes one RecordIO record: the decimal length, a line feed,
// then data. Empty records are not allowed by the format and are refused.
func WriteRecord(w io.Writer, data []byte) error {
	if len(data) == 0 {
		return errors.New("recordio: empty record")
	}
	var hdr [24]byte
	b := strconv.AppendInt(hdr[:0], int64(len(data)), 10)
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// Reader reads RecordIO records from a byte stream whose chunking has no
// relation to record boundaries. It is not safe for concurrent use.
type Reader struct {
	r *bufio.Reader
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next record. It returns io.EOF at a clean end of stream
// and io.ErrUnexpectedEOF when the stream ends inside a record.
func (r *Reader) Next() ([]byte, error) {
	var n uint64
	digits := 0
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if c == '\n' {
			break
		}
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("recordio: invalid length byte %q", c)
		}
		digits++
		n = n*10 + uint64(c-'0')
		if n > MaxRecordSize {
			return nil, fmt.Errorf("recordio: record larger than %d bytes", MaxRecordSize)
		}
	}
	if digits == 0 || n == 0 {
		return nil, errors.New("recordio: empty record length")
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}
