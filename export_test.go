package chat

// CheckMissedReply runs the missed-reply check for a conversation now, as
// its timer would.
func CheckMissedReply(s *Server, convID string) { s.checkMissedReply(convID) }
