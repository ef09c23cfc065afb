package vault

import (
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWithoutQuery(t *testing.T) {
	err := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/v1/sys/health?standbycode=299&x=secret", Err: errors.New("connection refused")}
	got := WithoutQuery(fmt.Errorf("wrapped: %w", err))
	assert.Equal(t, `Get "http://127.0.0.1:1/v1/sys/health": connection refused`, got.Error())
	other := errors.New("other")
	assert.Equal(t, other, WithoutQuery(other))
	assert.Nil(t, WithoutQuery(nil))
}
