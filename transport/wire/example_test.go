package wire_test

import (
	"fmt"
	"math/big"

	"github.com/drover-dev/drover/transport/wire"
)

// Task values keep their kinds across the wire: int64 and *big.Int,
// string and []byte, and a dict whose keys are all strings becomes a
// map[string]any.
func ExampleCodec_MarshalValue() {
	c, err := wire.New(nil)
	if err != nil {
		panic(err)
	}
	big1, _ := new(big.Int).SetString("100000000000000000000", 10)
	data, err := c.MarshalValue([]any{int64(7), big.NewInt(7), big1, "s", []byte("b"), 2.0, map[any]any{"k": nil}})
	if err != nil {
		panic(err)
	}
	v, err := c.UnmarshalValue(data)
	if err != nil {
		panic(err)
	}
	for _, e := range v.([]any) {
		fmt.Printf("%T %v\n", e, e)
	}
	_, err = c.MarshalValue(map[string]any{"when": struct{}{}})
	fmt.Println(err)
	// Output:
	// int64 7
	// *big.Int 7
	// *big.Int 100000000000000000000
	// string s
	// []uint8 [98]
	// float64 2
	// map[string]interface {} map[k:<nil>]
	// wire: encode value: value["when"]: unsupported value of type struct {} (task data is nil, bool, numbers, string, []byte, []any or map[string]any)
}
