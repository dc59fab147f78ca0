package handlers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gin-gonic/gin"
	"golang.org/x/image/webp"
	"playgate/models"
	"playgate/store"
)

// maxPixels refuses decompression bombs: 40 megapixels.
const maxPixels = 40_000_000

// imageKind is one accepted image format, recognised by its magic bytes.
type imageKind struct {
	contentType, ext string
	match            func([]byte) bool
	decodeConfig     func(io.Reader) (image.Config, error)
}

var imageKinds = []imageKind{
	{"image/png", "png", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }, png.DecodeConfig},
	{"image/jpeg", "jpg", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\xff\xd8\xff")) }, jpeg.DecodeConfig},
	{"image/gif", "gif", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
	}, gif.DecodeConfig},
	{"image/webp", "webp", func(b []byte) bool {
		return len(b) >= 12 && bytes.Equal(b[:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP"))
	}, webp.DecodeConfig},
}

// sniffImage names the format from the content (never the file name) and
// reads the dimensions from the header only, before any full decode.
func sniffImage(data []byte) (*imageKind, image.Config, error) {
	for i := range imageKinds {
		k := &imageKinds[i]
		if k.match(data) {
			cfg, err := k.decodeConfig(bytes.NewReader(data))
			if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
				return nil, cfg, fmt.Errorf("unreadable %s header", k.ext)
			}
			return k, cfg, nil
		}
	}
	return nil, image.Config{}, errors.New("not a PNG, JPEG, GIF or WebP image")
}

// readUpload streams the multipart field "file" into memory, at most
// maxUpload bytes (one more tells it is too large).
func readUpload(c *gin.Context) ([]byte, bool) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxUpload+64<<10)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		fail(c, http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the image as multipart/form-data in the field \"file\".")
		return nil, false
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				fail(c, http.StatusRequestEntityTooLarge, "too_large", "The upload is over 10 MiB.")
			} else {
				invalid(c, map[string]string{"file": "is required: a multipart field named file"})
			}
			return nil, false
		}
		if part.FormName() != "file" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, maxUpload+1))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				fail(c, http.StatusRequestEntityTooLarge, "too_large", "The upload is over 10 MiB.")
			} else {
				invalid(c, map[string]string{"file": "could not be read: the multipart body is cut short or malformed"})
			}
			return nil, false
		}
		if len(data) > maxUpload {
			fail(c, http.StatusRequestEntityTooLarge, "too_large", "The image is over 10 MiB.")
			return nil, false
		}
		if len(data) == 0 {
			invalid(c, map[string]string{"file": "is empty"})
			return nil, false
		}
		return data, true
	}
}

func (a *API) uploadAttachment(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	fb, ok := a.feedbackFor(c, id)
	if !ok {
		return
	}
	data, ok := readUpload(c)
	if !ok {
		return
	}
	kind, cfg, err := sniffImage(data)
	if err != nil {
		fail(c, http.StatusUnsupportedMediaType, "unsupported_media_type", "Attach a PNG, JPEG, GIF or WebP image.")
		return
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		fail(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("The image is %d×%d: at most 40 megapixels are accepted.", cfg.Width, cfg.Height))
		return
	}
	rel := filepath.Join("attachments", store.NewToken()[:32]+"."+kind.ext)
	if err := writeFileSync(filepath.Join(a.store.DataDir, rel), data); err != nil {
		a.answer(c, fmt.Errorf("store attachment: %w", err))
		return
	}
	att := &models.Attachment{FeedbackID: fb.ID, ContentType: kind.contentType, Size: int64(len(data)), Width: cfg.Width, Height: cfg.Height, Path: rel}
	if err := a.store.AddAttachment(c.Request.Context(), currentUser(c).ID, att); err != nil {
		_ = os.Remove(filepath.Join(a.store.DataDir, rel))
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusCreated, att)
}

// writeFileSync writes through a temporary file and renames it into place,
// so a crash never leaves half an image under the final name.
func writeFileSync(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	if _, err := w.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (a *API) getAttachment(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	att, err := a.store.Attachment(c.Request.Context(), id)
	if err != nil {
		a.answer(c, err)
		return
	}
	if _, ok := a.readableFeedback(c, att.FeedbackID, "Attachment"); !ok {
		return
	}
	f, err := os.Open(filepath.Join(a.store.DataDir, att.Path))
	if err != nil {
		a.answer(c, fmt.Errorf("open attachment %d: %w", att.ID, err))
		return
	}
	defer f.Close()
	h := c.Writer.Header()
	h.Set("Content-Type", att.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Content-Disposition", `inline; filename="attachment-`+strconv.FormatInt(att.ID, 10)+filepath.Ext(att.Path)+`"`)
	h.Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(c.Writer, c.Request, "", att.CreatedAt, f)
}
