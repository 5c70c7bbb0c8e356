namespace AuditTrail.Core.Storage;

public enum TableTransactionActionType
{
    /// <summary>Insert; fails with EntityAlreadyExists if the row exists.</summary>
    Add,

    /// <summary>Insert or replace, unconditionally.</summary>
    UpsertReplace,

    /// <summary>Delete, unconditionally (If-Match: *).</summary>
    Delete,
}

public sealed record TableTransactionAction(TableTransactionActionType ActionType, TableEntity Entity);
