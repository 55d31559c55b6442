package fabric_test

import (
	"fmt"

	"github.com/drover-dev/drover/fabric"
)

// The subjects of a controller with prefix "farm" and an engine whose key
// is K.
func ExampleSubjects() {
	s, err := fabric.NewSubjects("farm")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.EngineIn("K"))
	fmt.Println(s.EngineOut("K"))
	fmt.Println(s.APIOp("submit"))
	fmt.Println(fabric.InboxPrefix("K"))
	key, _ := s.EngineKeyOf("farm.ctl.eng.K")
	fmt.Println(key)
	// Output:
	// farm.eng.K.in
	// farm.ctl.eng.K
	// farm.api.v1.submit
	// _INBOX.K
	// K
}
