package protocol

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

func TestDecodeClient(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code string
	}{
		{`{"v":1,"type":"hello"}`, ""},
		{`{"type":"message","id":"a","text":"hi"}`, ""},
		{`{"type":"message",`, CodeBadFrame},
		{`[]`, CodeBadFrame},
		{`null`, CodeUnknownType},
		{`{"type":"nope"}`, CodeUnknownType},
		{`{"type":"message","text":{"x":1}}`, CodeBadFrame},
		{`{"type":"read","seq":"7"}`, CodeBadFrame},
		{`{"type":"hello","resume":"x"}`, CodeBadFrame},
	} {
		f, err := DecodeClient([]byte(tc.in))
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.in, err)
			}
			continue
		}
		var fe *FrameError
		if !errors.As(err, &fe) || fe.Code != tc.code {
			t.Errorf("%s: %v (frame %+v), want code %s", tc.in, err, f, tc.code)
		}
	}
}

// FuzzDecodeClient: any input decodes to a known frame type or a
// FrameError with a stable code, never a panic; a decoded frame survives a
// round trip.
func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"hello","resume":[{"conv":"c","seq":3,"epoch":9}]}`,
		`{"type":"message","id":"m1","text":"hello \u00e9"}`,
		`{"type":"typing","typing":true,"draft":"4111 1111"}`,
		`{"type":"transfer","id":"t","conv":"c","operator":"bob","comment":"x"}`,
		`{"type":"profile","fields":{"a":"b"}}`,
		`{"type":"message","text":{}}`, `{`, ``, `"x"`,
		"{\"type\":\"message\",\"id\":\"m\",\"text\":\"caf\xe9\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeClient(data)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || (fe.Code != CodeBadFrame && fe.Code != CodeUnknownType && fe.Code != CodeInvalid) {
				t.Fatalf("error %v is not a FrameError with a stable code", err)
			}
			if (fe.Code == CodeInvalid) == utf8.Valid(data) {
				t.Fatalf("code %s for a frame whose UTF-8 validity is %v", fe.Code, utf8.Valid(data))
			}
			if fe.Error() == "" || !utf8.ValidString(fe.Code) {
				t.Fatal("empty error text")
			}
			return
		}
		if !clientTypes[fr.Type] {
			t.Fatalf("accepted unknown type %q", fr.Type)
		}
		if !utf8.Valid(data) {
			t.Fatal("accepted a frame that is not UTF-8")
		}
		again, err := json.Marshal(fr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeClient(again); err != nil {
			t.Fatalf("re-encoded frame %s does not decode: %v", again, err)
		}
	})
}
