package journal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/drovertype"
)

// DefaultMaxObject is the default of Config.MaxObject: the largest encoded
// result the journal keeps (the wire codec's default limit).
const DefaultMaxObject = 64 << 20

// hdrObj names, in a result record, the object of the journal's object
// store that holds the encoded result (the record itself is empty).
const hdrObj = "Drover-Object"

// Types of the failures written in place of a result that could not be
// kept.
const (
	// typeTooLarge: the encoded result is over Config.MaxObject.
	typeTooLarge = "ResultTooLarge"
	// typeNotStored: writing the result to the object store failed.
	typeNotStored = "ResultNotStored"
)

// objectName is the name of a new object for task id's result: the task
// id (so that a leftover object can be matched with its task) and a random
// suffix (two attempts at a result of one task never share an object).
func objectName(id drovertype.TaskID) string {
	return "r." + itoa(int64(id)) + "." + rand.Text()
}

// objectTask returns the task id in an object name made by objectName.
func objectTask(name string) (drovertype.TaskID, bool) {
	s, ok := strings.CutPrefix(name, "r.")
	if !ok {
		return 0, false
	}
	s, _, ok = strings.Cut(s, ".")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return drovertype.TaskID(n), true
}

// setupObjects creates or updates the object store bucket of large
// results: same retention by age as the result stream, same replicas.
func (j *Journal) setupObjects(ctx context.Context) error {
	c := &j.cfg
	bucket := streamName(c.Prefix, "objects")
	obs, err := j.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      bucket,
		Description: "drover journal: results over the NATS payload limit (format 1)",
		TTL:         c.MaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	})
	if err != nil {
		return fmt.Errorf("object store %s: %w", bucket, err)
	}
	// The bucket's stream, named as ADR-20 (the object store's spec) says.
	s, err := j.js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		return fmt.Errorf("object store %s: %w", bucket, err)
	}
	j.bucket, j.objects, j.objStream = bucket, obs, s
	return nil
}

// writeObject keeps task f.id's encoded result data (over the NATS payload
// limit) in the object store, then writes the result record that points to
// it, with the same first-result-wins condition as any result. When the
// record is refused (the task has a result already) the object is
// deleted. When the object cannot be written, a failure ResultNotStored
// that says why is written as the task's result instead.
func (j *Journal) writeObject(f *finished, data []byte) error {
	ctx, cancel := context.WithTimeout(j.life, j.cfg.WriteTimeout)
	defer cancel()
	name := objectName(f.id)
	if _, err := j.objects.PutBytes(ctx, name, data); err != nil {
		if j.life.Err() != nil {
			// Closing: not a property of the result; it runs again
			// after a restart.
			return fmt.Errorf("%s: write result of task %d (%d bytes) to object store %s: journal closed", j.where, f.id, len(data), j.bucket)
		}
		j.log.Warn("journal: large result not stored", "task", f.id, "size", len(data), "err", err)
		te := drovertype.NewTaskError(drovertype.Internal, typeNotStored,
			fmt.Sprintf("the result of task %d (%d bytes encoded) could not be kept in the %s (object store %s): %v", f.id, len(data), j.where, j.bucket, err))
		small, merr := j.codec.MarshalResult(nil, te)
		if merr != nil {
			return fmt.Errorf("%s: encode result of task %d: %w", j.where, f.id, merr)
		}
		f.failed = true
		return j.publishResult(f, small)
	}
	subj, id := j.subjOK, itoa(int64(f.id))
	if f.failed {
		subj = j.subjFail
	}
	m := &nats.Msg{Subject: subj + id, Data: []byte{}, Header: nats.Header{
		hdrObj:                                  {name},
		jetstream.ExpectedLastSubjSeqHeader:     {"0"},
		jetstream.ExpectedLastSubjSeqSubjHeader: {j.subjRes + id},
	}}
	_, err := j.js.PublishMsg(ctx, m)
	switch {
	case err == nil:
		return nil
	case isWrongLastSeq(err):
		// Another result was first: it is kept, this one goes.
		j.deleteObject(ctx, name)
		return nil
	}
	// The record may or may not be stored: look.
	got, _, gerr := j.getResult(ctx, f.id)
	switch {
	case gerr == nil && got != nil && got.Header.Get(hdrObj) == name:
		return nil
	case gerr == nil && got != nil:
		j.deleteObject(ctx, name)
		return nil
	}
	// Left in doubt: the object stays (Recover deletes it if no record
	// points to it).
	return fmt.Errorf("%s: write result record of task %d (object %s): %w", j.where, f.id, name, err)
}

// deleteObject deletes an object and its delete marker (so that its space
// is freed entirely). A failure is logged: Recover deletes objects no
// result points to.
func (j *Journal) deleteObject(ctx context.Context, name string) {
	if err := j.removeObject(ctx, name); err != nil {
		j.log.Warn("journal: object not deleted", "object", name, "err", err)
	}
}

func (j *Journal) removeObject(ctx context.Context, name string) error {
	err := j.objects.Delete(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete object %s of %s: %w", name, j.bucket, err)
	}
	// The object store leaves a marker of the deletion: purge it too.
	meta := "$O." + j.bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
	if err := j.objStream.Purge(ctx, jetstream.WithPurgeSubject(meta)); err != nil {
		return fmt.Errorf("delete object %s of %s: %w", name, j.bucket, err)
	}
	return nil
}

// readObject returns the encoded result kept in object name.
func (j *Journal) readObject(ctx context.Context, id drovertype.TaskID, name string) ([]byte, error) {
	data, err := j.objects.GetBytes(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return nil, fmt.Errorf("%s: result of task %d: its object %s is not in object store %s (deleted or expired): %w", j.where, id, name, j.bucket, err)
	case err != nil:
		return nil, fmt.Errorf("%s: result of task %d: read object %s of %s: %w", j.where, id, name, j.bucket, err)
	}
	return data, nil
}

// sweepObjects deletes the objects no result record points to: left by a
// crash between an object and its record, or whose record was dropped by
// Config.MaxResults. Its cost follows the number of objects (large
// results), not of results; a failure is logged, not fatal.
func (j *Journal) sweepObjects(ctx context.Context) {
	info, err := j.objStream.Info(ctx)
	if err != nil {
		j.log.Warn("journal: object sweep", "err", err)
		return
	}
	if info.State.Msgs == 0 {
		return
	}
	objs, err := j.objects.List(ctx)
	switch {
	case errors.Is(err, jetstream.ErrNoObjectsFound):
		return
	case err != nil:
		j.log.Warn("journal: object sweep", "err", err)
		return
	}
	n := 0
	for _, o := range objs {
		id, ok := objectTask(o.Name)
		if ok {
			m, _, err := j.getResult(ctx, id)
			if err != nil {
				j.log.Warn("journal: object sweep", "object", o.Name, "err", err)
				continue
			}
			if m != nil && m.Header.Get(hdrObj) == o.Name {
				continue
			}
		}
		if err := j.removeObject(ctx, o.Name); err != nil {
			j.log.Warn("journal: object sweep", "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		j.log.Info("journal: deleted objects no result points to", "count", n, "bucket", j.bucket)
	}
}
