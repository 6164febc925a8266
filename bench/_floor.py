"""The raw floor of the read benchmarks: the rows a request returns, fetched with plain psycopg in one
statement (same joins and columns as the API), to be JSON-encoded beside the API's own figure."""

# A conversation's branch from the root down to %(leaf)s: each exchange with its prompt, its response,
# the caller's (%(user)s) feedback and note count and its siblings, as the history API returns it.
BRANCH_SQL = """
    WITH RECURSIVE ancestry(id, parent_id) AS (
        SELECT id, parent_id FROM conversations_app_conversationpromptresponse
        WHERE id = %(leaf)s AND deleted_at IS NULL
        UNION ALL
        SELECT e.id, e.parent_id FROM conversations_app_conversationpromptresponse e
        JOIN ancestry a ON e.id = a.parent_id WHERE e.deleted_at IS NULL
    )
    SELECT e.id, e.conversation_id, e.parent_id, e.position, e.created_at,
           p.id AS prompt_id, p.content AS prompt_content, p.options, p.token_count,
           p.history_omitted, p.created_at AS prompt_created_at,
           r.id AS response_id, r.content, r.model_name, r.status, r.done_reason, r.error,
           r.total_duration, r.load_duration, r.prompt_eval_count, r.prompt_eval_duration,
           r.eval_count, r.eval_duration, r.created_at AS response_created_at, r.completed_at,
           (SELECT json_build_object('id', f.id, 'rating', f.rating, 'reason', f.reason,
                                     'comment', f.comment, 'version', f.version)
              FROM conversations_app_feedback f
             WHERE f.response_id = r.id AND f.user_id = %(user)s AND f.deleted_at IS NULL LIMIT 1)
             AS feedback,
           (SELECT count(*) FROM conversations_app_note n
             WHERE n.response_id = r.id AND n.owner_id = %(user)s AND n.deleted_at IS NULL) AS note_count,
           ARRAY(SELECT s.id FROM conversations_app_conversationpromptresponse s
                  WHERE s.conversation_id = e.conversation_id AND s.position = e.position
                    AND (s.parent_id = e.parent_id OR s.position = 0) AND s.deleted_at IS NULL
                  ORDER BY s.created_at, s.id) AS sibling_ids
      FROM conversations_app_conversationpromptresponse e
      JOIN conversations_app_prompt p ON p.id = e.prompt_id
      JOIN conversations_app_airesponse r ON r.id = e.response_id
     WHERE e.id IN (SELECT id FROM ancestry)
     ORDER BY e.position
     LIMIT %(limit)s
"""

# A page of a user's (%(owner)s) alive conversations, most recently active first, with the columns the
# list API returns.
CONVERSATION_PAGE_SQL = """
    SELECT id, title, folder_id, model_id, model_name, system_prompt, system_message_id,
           default_options, is_pinned, is_archived, current_exchange_id, message_count,
           prompt_tokens, completion_tokens, last_message_at, version, created_at, updated_at
      FROM conversations_app_conversation
     WHERE owner_id = %(owner)s AND deleted_at IS NULL
     ORDER BY last_message_at DESC, id DESC
     LIMIT %(limit)s
"""
