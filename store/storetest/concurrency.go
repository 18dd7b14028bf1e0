package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// parallel runs f(0..n-1) in n goroutines released together and waits.
// f must not use t: the cases collect results and assert afterwards.
func parallel(n int, f func(g int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			<-start
			f(g)
		})
	}
	close(start)
	wg.Wait()
}

// firstErr keeps the first unexpected error seen by any goroutine.
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (e *firstErr) set(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

func concurrencyCases() []def {
	return []def{
		{"Concurrency/AppendSequence", func(t testing.TB, s store) {
			const workers, each = 8, 50
			mustConv(t, s, "c1", at(0))
			got := make([][]int64, workers) // seqs returned to each worker, in call order
			var unexpected firstErr
			parallel(workers, func(g int) {
				for i := range each {
					a, err := s.AppendMessage(ctx, text("c1", fmt.Sprintf("g%d-%d", g, i), "x", at(1)))
					if err != nil {
						unexpected.set(err)
						return
					}
					got[g] = append(got[g], a.Message.Seq)
				}
			})
			require.NoError(t, unexpected.err, "AppendMessage")
			var all []int64
			for g, ss := range got {
				assert.Truef(t, slices.IsSorted(ss), "worker %d's sequential appends got decreasing Seqs", g)
				all = append(all, ss...)
			}
			slices.Sort(all)
			want := make([]int64, workers*each)
			for i := range want {
				want[i] = int64(i + 1)
			}
			assert.Equal(t, want, all, "returned Seqs are 1..N exactly once")
			ms := mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})
			assert.Equal(t, want, seqs(ms), "stored Seqs are 1..N without gaps")
			clientIDs := map[string]bool{}
			for _, m := range ms {
				assert.False(t, clientIDs[m.ClientID], "client id %q stored twice", m.ClientID)
				clientIDs[m.ClientID] = true
			}
			assert.EqualValues(t, workers*each, mustGetConv(t, s, "c1").LastSeq, "LastSeq")
		}},
		{"Concurrency/AppendRetries", func(t testing.TB, s store) {
			const workers, ids = 8, 50
			mustConv(t, s, "c1", at(0))
			type result struct {
				id  string
				seq int64
				dup bool
			}
			got := make([][]result, workers) // got[g][i]: worker g's result for client id i
			var unexpected firstErr
			parallel(workers, func(g int) {
				got[g] = make([]result, ids)
				for j := range ids {
					i := (j + g*7) % ids // each worker retries in its own order
					a, err := s.AppendMessage(ctx, text("c1", id("k", i), id("m", i), at(1)))
					if err != nil {
						unexpected.set(err)
						return
					}
					got[g][i] = result{a.Message.ID, a.Message.Seq, a.Duplicate}
				}
			})
			require.NoError(t, unexpected.err, "AppendMessage")
			seen := map[int64]bool{}
			for i := range ids {
				firsts := 0
				for g := range workers {
					r := got[g][i]
					if !r.dup {
						firsts++
					}
					assert.Equal(t, got[0][i].id, r.id, "client id %d: worker %d got another message ID", i, g)
					assert.Equal(t, got[0][i].seq, r.seq, "client id %d: worker %d got another Seq", i, g)
				}
				assert.Equal(t, 1, firsts, "client id %d: exactly one append is not a Duplicate", i)
				assert.False(t, seen[got[0][i].seq], "Seq %d given to two client ids", got[0][i].seq)
				seen[got[0][i].seq] = true
			}
			ms := mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})
			require.Len(t, ms, ids, "each client id stored once")
			for i, m := range ms {
				assert.EqualValues(t, i+1, m.Seq, "stored Seqs are gapless")
			}
			assert.EqualValues(t, ids, mustGetConv(t, s, "c1").LastSeq, "LastSeq")
		}},
		{"Concurrency/Assign", func(t testing.TB, s store) {
			const convs, ops, capacity, workers = 40, 4, 5, 16
			for i := range ops {
				mustOperator(t, s, id("op", i))
			}
			for i := range convs {
				mustConv(t, s, id("c", i), at(i))
			}
			type win struct{ conv, op string }
			var (
				mu   sync.Mutex
				wins []win
			)
			var unexpected firstErr
			parallel(workers, func(g int) {
				op := id("op", g%ops)
				for j := range convs {
					cid := id("c", (j+g*7)%convs)
					c, err := s.Assign(ctx, cid, "", op, capacity, at(100+j))
					switch {
					case err == nil:
						if c == nil || c.OperatorID != op || c.ID != cid {
							unexpected.set(fmt.Errorf("Assign(%s, %s) returned %+v", cid, op, c))
						}
						mu.Lock()
						wins = append(wins, win{cid, op})
						mu.Unlock()
					case errors.Is(err, chat.ErrConflict), errors.Is(err, chat.ErrCapacity):
					default:
						unexpected.set(err)
					}
				}
			})
			require.NoError(t, unexpected.err, "Assign: only ErrConflict and ErrCapacity are expected")
			owner := map[string]string{}
			perOp := map[string]int{}
			for _, w := range wins {
				if prev, ok := owner[w.conv]; ok {
					assert.Failf(t, "conversation assigned twice", "%s went to %s and %s", w.conv, prev, w.op)
				}
				owner[w.conv] = w.op
				perOp[w.op]++
			}
			l := loads(t, s, at(1000))
			for i := range ops {
				op := id("op", i)
				assert.LessOrEqual(t, perOp[op], capacity, "successful Assigns to %s", op)
				assert.Equal(t, capacity, perOp[op], "%s tried every conversation, so it must be full", op)
				assert.Equal(t, perOp[op], l[op].Active, "OperatorLoads Active of %s", op)
				assert.LessOrEqual(t, l[op].Active, capacity, "OperatorLoads Active of %s", op)
			}
			assert.Len(t, wins, ops*capacity, "successful Assigns")
			for i := range convs {
				cid := id("c", i)
				c := mustGetConv(t, s, cid)
				assert.Equal(t, owner[cid], c.OperatorID, "stored operator of %s", cid)
			}
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Len(t, q, convs-ops*capacity, "conversations left in the queue")
		}},
		{"Concurrency/Transfer", func(t testing.TB, s store) {
			const rounds, ops = 10, 12
			for i := range ops {
				mustOperator(t, s, id("op", i))
			}
			mustConv(t, s, "c1", at(0))
			holder := id("op", 0)
			mustAssign(t, s, "c1", "", holder, at(1))
			for r := range rounds {
				winners := make([]bool, ops)
				var unexpected firstErr
				parallel(ops, func(g int) {
					to := id("op", g)
					if to == holder {
						return
					}
					_, err := s.Assign(ctx, "c1", holder, to, 0, at(10+r))
					switch {
					case err == nil:
						winners[g] = true
					case errors.Is(err, chat.ErrConflict):
					default:
						unexpected.set(err)
					}
				})
				require.NoError(t, unexpected.err, "round %d: Assign: only ErrConflict is expected", r)
				var won []string
				for g, w := range winners {
					if w {
						won = append(won, id("op", g))
					}
				}
				require.Len(t, won, 1, "round %d: transfers from %s that succeeded", r, holder)
				assert.Equal(t, won[0], mustGetConv(t, s, "c1").OperatorID, "round %d: stored operator", r)
				active := 0
				for op, l := range loads(t, s, at(100)) {
					active += l.Active
					if op == won[0] {
						assert.Equal(t, 1, l.Active, "round %d: winner's Active", r)
					}
				}
				assert.Equal(t, 1, active, "round %d: total Active", r)
				holder = won[0]
			}
		}},
		{"Concurrency/OneOpenConversation", func(t testing.TB, s store) {
			const workers = 10
			mustVisitor(t, s, "v1", "")
			created := make([]bool, workers)
			var unexpected firstErr
			parallel(workers, func(g int) {
				err := s.CreateConversation(ctx, &chat.Conversation{ID: id("c", g), VisitorID: "v1", CreatedAt: at(g), QueuedAt: at(g)})
				switch {
				case err == nil:
					created[g] = true
				case errors.Is(err, chat.ErrConflict):
				default:
					unexpected.set(err)
				}
			})
			require.NoError(t, unexpected.err, "CreateConversation: only ErrConflict is expected")
			var won []string
			for g, ok := range created {
				if ok {
					won = append(won, id("c", g))
				}
			}
			require.Len(t, won, 1, "concurrent CreateConversation for one visitor that succeeded")
			open, err := s.OpenConversation(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, won[0], open.ID)
			cs, err := s.Conversations(ctx, chat.ConversationFilter{VisitorID: "v1"})
			require.NoError(t, err)
			assert.Equal(t, won, convIDs(cs), "stored conversations of the visitor")
		}},
	}
}
